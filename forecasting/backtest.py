"""Rolling-origin backtests, metrics and the champion rule.

One cross-validation run per target at its longest horizon; shorter horizons are scored on the first
steps of the same windows, so every horizon is judged on the same origins. Metrics come from
utilsforecast; MASE is scaled per origin with only the history before that origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import polars as pl
from mlforecast import MLForecast
from mlforecast.lag_transforms import RollingMean
from mlforecast.target_transforms import Differences
from mlforecast.utils import PredictionIntervals
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA
from utilsforecast.evaluation import evaluate
from utilsforecast.losses import bias, coverage, mae, mase, rmse, smape

from forecasting.data import TrainingSeries
from forecasting.engine import Engine, LocalEngine, stat_cross_validation
from forecasting.models import BASELINES, TargetConfig, complexity, model_alias, stat_models

LEVELS: tuple[int, ...] = (80, 95)
ENSEMBLE_SIZE = 3


@dataclass
class BacktestResult:
    series_id: str
    cv: pl.DataFrame  # unique_id, ds, cutoff, y, <model>, <model>-lo-80 ...
    leaderboard: pl.DataFrame  # one row per (model, horizon)
    champion: str
    primary_h: int
    baseline_mase: float
    ensemble_members: list[str] = field(default_factory=list)
    bridged: list[Any] = field(default_factory=list)
    drivers: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        return self.leaderboard["model"].unique(maintain_order=True).to_list()


def ml_models() -> dict[str, Any]:
    """A regularised linear model on lags: strong where the series is close to linear in its recent past."""
    return {"Ridge": make_pipeline(StandardScaler(), RidgeCV(alphas=(0.1, 1.0, 10.0, 100.0)))}


def mlforecast_for(cfg: TargetConfig) -> MLForecast:
    m = cfg.spec.season_length
    lags = sorted({1, 2, 3, m} if m > 1 else {1, 2})
    return MLForecast(
        models=ml_models(),
        freq=cfg.spec.interval,
        lags=lags,
        lag_transforms={1: [RollingMean(window_size=3)]},
        target_transforms=[Differences([1])],
    )


def ml_min_length(cfg: TargetConfig) -> int:
    """Conformal intervals need two calibration windows of h on top of the lags."""
    return 2 * cfg.max_h + 2 * cfg.spec.season_length + 12


def _ml_cv(ts: TrainingSeries, cfg: TargetConfig, with_drivers: bool) -> pl.DataFrame | None:
    n_first_train = ts.df.height - cfg.max_h - (cfg.n_windows - 1) * cfg.step_size
    if n_first_train < ml_min_length(cfg):
        return None
    df = ts.df
    if with_drivers:
        if ts.X is None:
            return None
        df = df.join(ts.X, on=["unique_id", "ds"], how="inner")
    cv = mlforecast_for(cfg).cross_validation(
        df,
        n_windows=cfg.n_windows,
        h=cfg.max_h,
        step_size=cfg.step_size,
        static_features=[],
        prediction_intervals=PredictionIntervals(n_windows=2, h=cfg.max_h),
        level=list(LEVELS),
    )
    if with_drivers:
        cv = cv.rename({c: c.replace("Ridge", "RidgeX", 1) for c in cv.columns if c.startswith("Ridge")})
    return cv


def _stat_cv(ts: TrainingSeries, cfg: TargetConfig, engine: Engine) -> pl.DataFrame:
    """The statsforecast part of the zoo, on ``engine`` (local or Dask); ridge and ARIMAX stay local."""
    n_first_train = ts.df.height - cfg.max_h - (cfg.n_windows - 1) * cfg.step_size
    return stat_cross_validation(
        engine,
        stat_models(cfg.spec, n_first_train),
        cfg.spec.interval,
        ts.df,
        h=cfg.max_h,
        n_windows=cfg.n_windows,
        step_size=cfg.step_size,
        level=LEVELS,
    )


def _arimax_cv(ts: TrainingSeries, cfg: TargetConfig) -> pl.DataFrame | None:
    if ts.X is None:
        return None
    m = cfg.spec.season_length
    sf = StatsForecast(models=[AutoARIMA(season_length=m, alias="AutoARIMAX")], freq=cfg.spec.interval, n_jobs=1)
    df = ts.df.join(ts.X, on=["unique_id", "ds"], how="inner")
    try:
        return sf.cross_validation(
            df=df, h=cfg.max_h, n_windows=cfg.n_windows, step_size=cfg.step_size, level=list(LEVELS)
        )
    except Exception:  # statsforecast raises bare ValueErrors for singular regressors
        return None


def _merge_cv(frames: list[pl.DataFrame]) -> pl.DataFrame:
    keys = ["unique_id", "ds", "cutoff"]
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f.drop("y"), on=keys, how="inner")
    return out.sort("cutoff", "ds")


def model_columns(cv: pl.DataFrame) -> list[str]:
    return [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y") and "-lo-" not in c
            and "-hi-" not in c]


def add_ensemble(cv: pl.DataFrame, members: list[str]) -> pl.DataFrame:
    """Equal-weight mean of the members' points and of their interval bounds (quantile averaging)."""
    exprs = [pl.mean_horizontal([pl.col(m) for m in members]).alias("Ensemble")]
    for lv in LEVELS:
        for side in ("lo", "hi"):
            exprs.append(pl.mean_horizontal([pl.col(f"{m}-{side}-{lv}") for m in members]).alias(
                f"Ensemble-{side}-{lv}"))
    return cv.with_columns(exprs)


def score(cv: pl.DataFrame, train: pl.DataFrame, models: list[str], season: int, horizons: tuple[int, ...],
          exclude_ds: list[Any]) -> pl.DataFrame:
    """Per model and horizon: MASE, sMAPE, MAE, RMSE, bias, interval coverage and relative width."""
    cv = cv.filter(~pl.col("ds").is_in(exclude_ds)) if exclude_ds else cv
    cv = cv.with_columns(pl.col("ds").rank("ordinal").over("cutoff").alias("step"))
    origin_id = pl.concat_str([pl.col("unique_id"), pl.lit("|"), pl.col("cutoff").cast(pl.String)])
    cutoffs = cv.select("unique_id", "cutoff").unique()
    train_per_origin = (
        train.join(cutoffs, on="unique_id")
        .filter(pl.col("ds") <= pl.col("cutoff"))
        .with_columns(origin_id.alias("unique_id"))
        .select("unique_id", "ds", "y")
    )
    rows = []
    for h in horizons:
        sub = cv.filter(pl.col("step") <= h).with_columns(origin_id.alias("unique_id")).drop("cutoff", "step")
        ev = evaluate(
            sub,
            metrics=[partial(mase, seasonality=season), smape, mae, rmse, bias, coverage],
            models=models,
            train_df=train_per_origin,
            level=list(LEVELS),
        )
        per = ev.group_by("metric").agg([pl.col(m).mean() for m in models])
        scale = sub["y"].abs().mean()
        for m in models:
            vals = dict(zip(per["metric"].to_list(), per[m].to_list(), strict=True))
            widths = {
                lv: float(((sub[f"{m}-hi-{lv}"] - sub[f"{m}-lo-{lv}"]).mean() or 0.0) / (scale or 1.0))  # type: ignore[operator,arg-type]
                for lv in LEVELS
            }
            rows.append(
                {
                    "model": m,
                    "horizon": h,
                    "mase": vals["mase"],
                    "smape": vals["smape"],
                    "mae": vals["mae"],
                    "rmse": vals["rmse"],
                    "bias": vals["bias"],
                    "coverage_80": vals.get("coverage_level80"),
                    "coverage_95": vals.get("coverage_level95"),
                    "width_80": widths[80],
                    "width_95": widths[95],
                    "windows": cutoffs.height,
                }
            )
    return pl.DataFrame(rows)


def rank_candidates(board: pl.DataFrame, horizon: int) -> tuple[list[str], float]:
    """Models in champion order: those beating the best baseline by mean MASE (ties to 3 decimals go to
    the simpler model), then the baselines themselves; and that baseline MASE."""
    at = board.filter(pl.col("horizon") == horizon).filter(pl.col("mase").is_not_null() & pl.col("mase").is_finite())
    base = at.filter(pl.col("model").is_in(list(BASELINES)))
    baseline_mase = float(base["mase"].min())  # type: ignore[arg-type]
    ranked = at.with_columns(
        pl.col("mase").round(3).alias("mase_r"),
        pl.col("model").replace_strict({m: complexity(m) for m in at["model"].to_list()},
                                       return_dtype=pl.Int64).alias("cx"),
    ).sort("mase_r", "cx")
    beating = ranked.filter(pl.col("mase") < baseline_mase)["model"].to_list()
    baselines = ranked.filter(pl.col("model").is_in(list(BASELINES)))["model"].to_list()
    return [*beating, *baselines], baseline_mase


def choose_champion(board: pl.DataFrame, horizon: int) -> tuple[str, float]:
    """Best mean MASE at the primary horizon; ties (to 3 decimals) go to the simpler model.

    A model must beat the better of Naive and SeasonalNaive; if none does, that baseline is the champion
    and the leaderboard says so.
    """
    order, baseline_mase = rank_candidates(board, horizon)
    return order[0], baseline_mase


def backtest(ts: TrainingSeries, cfg: TargetConfig, engine: Engine | None = None) -> BacktestResult:
    """Rolling-origin CV of the whole zoo on one target, its leaderboard and its champion.

    ``engine`` runs the statsforecast models (default: this process, see ``forecasting.engine``).
    """
    frames = [_stat_cv(ts, cfg, engine or LocalEngine())]
    for extra in (_ml_cv(ts, cfg, with_drivers=False), _ml_cv(ts, cfg, with_drivers=True), _arimax_cv(ts, cfg)):
        if extra is not None:
            frames.append(extra)
    cv = _merge_cv(frames)
    models = model_columns(cv)
    season = cfg.spec.season_length
    board = score(cv, ts.df, models, season, cfg.horizons, ts.bridged)
    prim = board.filter(pl.col("horizon") == cfg.primary_h)
    candidates = (
        prim.filter(~pl.col("model").is_in(list(BASELINES)) & pl.col("mase").is_finite())
        .sort("mase")
        .head(ENSEMBLE_SIZE)["model"]
        .to_list()
    )
    if len(candidates) >= 2:
        cv = add_ensemble(cv, candidates)
        board = pl.concat([board, score(cv, ts.df, ["Ensemble"], season, cfg.horizons, ts.bridged)])
    champion, baseline = choose_champion(board, cfg.primary_h)
    board = board.with_columns(
        (pl.col("model") == champion).alias("champion"),
        pl.col("model").is_in(["RidgeX", "AutoARIMAX"]).alias("uses_drivers"),
        pl.lit(None, dtype=pl.String).alias("note"),
    ).sort("horizon", "mase")
    return BacktestResult(
        series_id=ts.series_id,
        cv=cv,
        leaderboard=board,
        champion=champion,
        primary_h=cfg.primary_h,
        baseline_mase=baseline,
        ensemble_members=candidates if len(candidates) >= 2 else [],
        bridged=ts.bridged,
        drivers=ts.drivers,
    )


__all__ = ["LEVELS", "BacktestResult", "backtest", "choose_champion", "model_alias", "score"]
