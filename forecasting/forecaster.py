"""Fit champions, forecast with intervals, simulate paths and build calendar-year outlooks.

A :class:`Forecaster` is a set of per-series champions plus the exact training data they were chosen on.
It saves as a directory of parquet + JSON (no pickles) and refits on load; statsforecast and the ridge
pipeline are deterministic, so a loaded forecaster predicts exactly what the trained one did.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from mlforecast.utils import PredictionIntervals
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA

from forecasting.backtest import LEVELS, mlforecast_for
from forecasting.data import TrainingSeries
from forecasting.models import TARGETS, TargetConfig, model_alias, stat_models
from pipelines.catalog import get_spec

N_PATHS = 1000
SEED = 20261127
#: the longest horizon served, in periods, per frequency (documented in the README and the API)
MAX_HORIZON = {"monthly": 36, "quarterly": 12, "annual": 4}


class ForecastRequestError(ValueError):
    """A forecast request outside what the model serves (horizon, level)."""


@dataclass
class SeriesModel:
    series_id: str
    champion: str
    members: list[str]
    training: TrainingSeries
    baseline_mase: float
    champion_mase: float
    drivers: tuple[str, ...] = ()

    @property
    def cfg(self) -> TargetConfig:
        return TARGETS[self.series_id]


@dataclass
class ForecasterMeta:
    trained_at: str
    data_hash: str
    data_vintage: str | None
    as_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _check(series: SeriesModel, h: int, levels: tuple[int, ...]) -> None:
    freq = series.cfg.spec.frequency
    if not 1 <= h <= MAX_HORIZON[freq]:
        raise ForecastRequestError(f"horizon must be between 1 and {MAX_HORIZON[freq]} for {freq} series, got {h}")
    bad = [lv for lv in levels if not 50 <= lv <= 99]
    if bad:
        raise ForecastRequestError(f"levels must be between 50 and 99, got {bad}")


def _stat_model(name: str, sm: SeriesModel) -> Any:
    if name == "AutoARIMAX":
        return AutoARIMA(season_length=sm.cfg.spec.season_length, alias="AutoARIMAX")
    n = sm.training.df.height
    for m in stat_models(sm.cfg.spec, n):
        if model_alias(m) == name:
            return m
    raise KeyError(name)


def _future_X(sm: SeriesModel, h: int) -> pl.DataFrame | None:
    if sm.training.X is None:
        return None
    last = sm.training.df["ds"].max()
    fut = sm.training.X.filter(pl.col("ds") > last).sort("ds").head(h)
    return fut if fut.height == h else None


def _fit_predict_one(sm: SeriesModel, name: str, h: int, levels: list[int]) -> pl.DataFrame:
    """Point and interval forecast of one model, columns ``unique_id, ds, name, name-lo-80, ...``."""
    df = sm.training.df
    spec = sm.cfg.spec
    if name in ("Ridge", "RidgeX"):
        train = df
        X_df = None
        if name == "RidgeX":
            X = sm.training.X
            X_df = _future_X(sm, h)
            if X is None or X_df is None:
                raise ForecastRequestError(f"drivers for {sm.series_id} do not cover h={h}")
            train = df.join(X, on=["unique_id", "ds"], how="inner")
        mlf = mlforecast_for(sm.cfg)
        mlf.fit(train, static_features=[], prediction_intervals=PredictionIntervals(n_windows=2, h=max(h, 1)))
        out = mlf.predict(h, level=list[int | float](levels), X_df=X_df)
        if name == "RidgeX":
            out = out.rename({c: c.replace("Ridge", "RidgeX", 1) for c in out.columns if c.startswith("Ridge")})
        return out
    model = _stat_model(name, sm)
    sf = StatsForecast(models=[model], freq=spec.interval, n_jobs=1)
    if name == "AutoARIMAX":
        X = sm.training.X
        X_df = _future_X(sm, h)
        if X is None or X_df is None:
            raise ForecastRequestError(f"drivers for {sm.series_id} do not cover h={h}")
        return sf.forecast(h=h, df=df.join(X, on=["unique_id", "ds"], how="inner"), X_df=X_df, level=levels)
    return sf.forecast(h=h, df=df, level=levels)


def _rename_to(frame: pl.DataFrame, src: str, dst: str) -> pl.DataFrame:
    return frame.rename({c: dst + c[len(src):] for c in frame.columns if c == src or c.startswith(src + "-")})


def ordered(frame: pl.DataFrame, model: str, levels: list[int]) -> pl.DataFrame:
    """One column order for every model: point, then lo/hi per level ascending."""
    cols = ["unique_id", "ds", model]
    for lv in levels:
        cols += [f"{model}-lo-{lv}", f"{model}-hi-{lv}"]
    return frame.select(cols).sort("ds")


def forecast_series(sm: SeriesModel, h: int, levels: tuple[int, ...] = LEVELS) -> pl.DataFrame:
    """The champion's forecast: ``unique_id, ds, <champion>, <champion>-lo-<level>, <champion>-hi-<level>``."""
    _check(sm, h, levels)
    lv = sorted(set(levels))
    if sm.champion != "Ensemble":
        return ordered(_fit_predict_one(sm, sm.champion, h, lv), sm.champion, lv)
    parts = [_fit_predict_one(sm, m, h, lv) for m in sm.members]
    base = parts[0].select("unique_id", "ds")
    for m, p in zip(sm.members, parts, strict=True):
        base = base.join(p.select("unique_id", "ds", pl.col(f"^{m}(-lo-|-hi-)?.*$")), on=["unique_id", "ds"])
    cols = [pl.mean_horizontal([pl.col(m) for m in sm.members]).alias("Ensemble")]
    for level in lv:
        for side in ("lo", "hi"):
            cols.append(pl.mean_horizontal([pl.col(f"{m}-{side}-{level}") for m in sm.members])
                        .alias(f"Ensemble-{side}-{level}"))
    return ordered(base.select("unique_id", "ds", *cols), "Ensemble", lv)


#: a champion's forecast may not exceed this multiple of the largest published value within its default horizon
PLAUSIBLE_MULTIPLE = 5.0


def implausible_reason(sm: SeriesModel, h: int) -> str | None:
    """Why a champion's final forecast is not credible, or None.

    Backtest accuracy is measured on past windows; a recursive model can still extrapolate a recent surge
    into an explosion (Micron's ridge champion once forecast 21x its record quarter). Such a model is
    passed over for the next in line, and the leaderboard says why.
    """
    fc = forecast_series(sm, h, LEVELS)
    point = fc[sm.champion]
    hist = sm.training.df["y"]
    top = float(hist.abs().max())  # type: ignore[arg-type]
    if sm.cfg.spec.nonnegative and float(point.min()) < 0:  # type: ignore[arg-type]
        return f"forecast goes negative ({float(point.min()):,.3g})"  # type: ignore[arg-type]
    peak = float(point.abs().max())  # type: ignore[arg-type]
    if top > 0 and peak > PLAUSIBLE_MULTIPLE * top:
        return f"forecast reaches {peak / top:.1f}x the largest published value within {h} periods"
    return None


def _gaussian_paths(fc: pl.DataFrame, name: str, n: int, seed: int) -> np.ndarray:
    """Paths consistent with the model's own 95% band, errors correlated like a random walk across steps.

    Used where statsforecast cannot simulate (MSTL, ridge via mlforecast). Works in logs when the band is
    positive, so totals of a skewed forecast stay skewed.
    """
    point = fc[name].to_numpy()
    lo, hi = fc[f"{name}-lo-95"].to_numpy(), fc[f"{name}-hi-95"].to_numpy()
    h = len(point)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, h)).cumsum(axis=1) / np.sqrt(np.arange(1, h + 1))
    if (lo > 0).all() and (point > 0).all():
        sigma = (np.log(hi) - np.log(lo)) / (2 * 1.959964)
        return np.exp(np.log(point) + z * sigma)
    sigma = (hi - lo) / (2 * 1.959964)
    return point + z * sigma


def simulate_paths(sm: SeriesModel, h: int, n: int = N_PATHS, seed: int = SEED) -> np.ndarray:
    """Joint sample paths (``n x h``) of the champion, for totals over several periods."""
    names = sm.members if sm.champion == "Ensemble" else [sm.champion]
    sims = []
    for i, name in enumerate(names):
        sims.append(_paths_one(sm, name, h, n, seed + i))
    return np.mean(np.stack(sims), axis=0)


def _paths_one(sm: SeriesModel, name: str, h: int, n: int, seed: int) -> np.ndarray:
    if name in ("Ridge", "RidgeX", "MSTL"):
        fc = _fit_predict_one(sm, name, h, [95])
        return _gaussian_paths(fc, name, n, seed)
    model = _stat_model(name, sm)
    sf = StatsForecast(models=[model], freq=sm.cfg.spec.interval, n_jobs=1)
    df = sm.training.df
    X_df = None
    if name == "AutoARIMAX" and sm.training.X is not None:
        df = df.join(sm.training.X, on=["unique_id", "ds"], how="inner")
        X_df = _future_X(sm, h)
    sim = sf.simulate(h=h, df=df, X_df=X_df, n_paths=n, seed=seed)
    col = next(c for c in sim.columns if c not in ("unique_id", "ds", "sample_id"))
    return sim.sort("sample_id", "ds")[col].to_numpy().reshape(n, h)


def outlook(sm: SeriesModel, h: int | None = None, n: int = N_PATHS) -> pl.DataFrame:
    """Calendar-year totals combining published periods with forecast ones, growth and path-based intervals.

    Only years whose every needed period is either published or forecast are reported. Intervals are
    quantiles of the simulated yearly totals (never sums of interval bounds).
    """
    spec = sm.cfg.spec
    h = h or sm.cfg.max_h
    fc = forecast_series(sm, h, LEVELS)
    paths = simulate_paths(sm, h, n)
    hist = sm.training.df.filter(~pl.col("ds").is_in(sm.training.bridged)) if sm.training.bridged else sm.training.df
    hist_vals = dict(zip(hist["ds"].to_list(), hist["y"].to_list(), strict=True))
    fc_dates: list[date] = fc["ds"].to_list()
    point = fc[sm.champion].to_numpy()
    years = sorted({d.year for d in fc_dates})
    needed_months = {"monthly": list(range(1, 13)), "quarterly": [1, 4, 7, 10], "annual": [1]}[spec.frequency]
    if spec.annual_agg == "quarter_end_3mma_x3":
        needed_months = [3, 6, 9, 12]

    def year_total(year: int) -> tuple[np.ndarray, float, int, int] | None:
        sims = np.zeros(n)
        pt = 0.0
        n_pub = n_fc = 0
        for mth in needed_months:
            d = date(year, mth, 1)
            if d in fc_dates:
                i = fc_dates.index(d)
                sims = sims + paths[:, i]
                pt += float(point[i])
                n_fc += 1
            elif d in hist_vals:
                sims = sims + hist_vals[d]
                pt += float(hist_vals[d])
                n_pub += 1
            else:
                return None
        scale = {"sum": 1.0, "mean": 1.0 / len(needed_months), "quarter_end_3mma_x3": 3.0}.get(spec.annual_agg)
        if spec.annual_agg == "last":
            d = date(year, needed_months[-1], 1)
            if d in fc_dates:
                i = fc_dates.index(d)
                return paths[:, i], float(point[i]), n_pub, n_fc
            return np.full(n, hist_vals[d]), float(hist_vals[d]), n_pub, n_fc
        assert scale is not None
        return sims * scale, pt * scale, n_pub, n_fc

    rows = []
    for year in years:
        cur = year_total(year)
        if cur is None:
            continue
        sims, pt, n_pub, n_fc = cur
        if n_fc == 0:
            continue
        prev = year_total(year - 1)
        row: dict[str, Any] = {
            "year": year,
            "value": pt,
            "published_periods": n_pub,
            "forecast_periods": n_fc,
        }
        for lv in LEVELS:
            a = (100 - lv) / 2
            row[f"lo-{lv}"], row[f"hi-{lv}"] = (float(x) for x in np.percentile(sims, [a, 100 - a]))
        if prev is not None:
            psims, ppt, _, _ = prev
            g = sims / psims - 1.0
            row["growth_pct"] = 100 * (pt / ppt - 1.0)
            for lv in LEVELS:
                a = (100 - lv) / 2
                lo, hi = np.percentile(g, [a, 100 - a])
                row[f"growth_lo-{lv}"], row[f"growth_hi-{lv}"] = 100 * float(lo), 100 * float(hi)
            row["prior_year_value"] = ppt
        rows.append(row)
    schema_cols = ["year", "value", "lo-80", "hi-80", "lo-95", "hi-95", "growth_pct", "growth_lo-80",
                   "growth_hi-80", "growth_lo-95", "growth_hi-95", "prior_year_value", "published_periods",
                   "forecast_periods"]
    out = pl.DataFrame(rows) if rows else pl.DataFrame(schema={"year": pl.Int64})
    for c in schema_cols:
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    return out.select(schema_cols).with_columns(pl.lit(spec.unit).alias("unit"))


class Forecaster:
    """Per-series champions trained on one data vintage; thread-safe cache of on-demand forecasts."""

    def __init__(self, models: dict[str, SeriesModel], meta: ForecasterMeta,
                 hbm: dict[str, Any] | None = None) -> None:
        self.models = models
        self.meta = meta
        #: the HBM model's calibrated assumptions (see forecasting.hbm), stored with the forecaster
        self.hbm = hbm
        self._cache: dict[tuple[str, int, tuple[int, ...]], pl.DataFrame] = {}
        self._lock = threading.Lock()

    def series(self, series_id: str) -> SeriesModel:
        get_spec(series_id)  # unknown ids raise UnknownSeriesError listing the valid ones
        try:
            return self.models[series_id]
        except KeyError:
            raise ForecastRequestError(
                f"{series_id} is not forecast; forecast series: {', '.join(sorted(self.models))}"
            ) from None

    def forecast(self, series_id: str, h: int, levels: tuple[int, ...] = LEVELS) -> pl.DataFrame:
        sm = self.series(series_id)
        key = (series_id, h, tuple(sorted(set(levels))))
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = forecast_series(sm, h, key[2])
        with self._lock:
            self._cache[key] = out
        return out

    def outlook(self, series_id: str) -> pl.DataFrame:
        sm = self.series(series_id)
        key = (series_id, -1, ())
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = outlook(sm)
        with self._lock:
            self._cache[key] = out
        return out

    def default_horizon(self, series_id: str) -> int:
        return self.series(series_id).cfg.max_h

    def precompute(self, progress: Callable[[str], None] | None = None) -> None:
        """Fill the cache with every series' default-horizon forecast and outlook (done at train time)."""
        for sid in self.models:
            if progress:
                progress(sid)
            self.forecast(sid, self.default_horizon(sid), LEVELS)
            self.outlook(sid)

    def cached_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Precomputed forecasts and outlooks as two long frames (for saving and for MLflow)."""
        fcs, outs = [], []
        with self._lock:
            items = list(self._cache.items())
        for (sid, h, levels), frame in items:
            if h == -1:
                outs.append(frame.with_columns(pl.lit(sid).alias("unique_id")))
            elif levels == LEVELS and h == self.default_horizon(sid):
                champ = self.models[sid].champion
                fcs.append(_rename_to(frame, champ, "forecast").with_columns(pl.lit(champ).alias("model")))
        f = pl.concat(fcs, how="diagonal_relaxed") if fcs else pl.DataFrame()
        o = pl.concat(outs, how="diagonal_relaxed") if outs else pl.DataFrame()
        return f, o

    # ------------------------------------------------------------------ persistence (no pickles)
    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {"meta": asdict(self.meta), "series": {}}
        for sid, sm in self.models.items():
            sm.training.df.write_parquet(path / f"{sid}.train.parquet")
            if sm.training.X is not None:
                sm.training.X.write_parquet(path / f"{sid}.X.parquet")
            manifest["series"][sid] = {
                "champion": sm.champion,
                "members": sm.members,
                "bridged": [d.isoformat() for d in sm.training.bridged],
                "drivers": list(sm.drivers),
                "baseline_mase": sm.baseline_mase,
                "champion_mase": sm.champion_mase,
                "has_X": sm.training.X is not None,
            }
        forecasts, outlooks = self.cached_frames()
        if forecasts.height:
            forecasts.write_parquet(path / "forecasts.parquet")
        if outlooks.height:
            outlooks.write_parquet(path / "outlooks.parquet")
        if self.hbm is not None:
            (path / "hbm.json").write_text(json.dumps(self.hbm, indent=2, sort_keys=True, default=str))
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Forecaster:
        manifest = json.loads((path / "manifest.json").read_text())
        models: dict[str, SeriesModel] = {}
        for sid, m in manifest["series"].items():
            df = pl.read_parquet(path / f"{sid}.train.parquet")
            X = pl.read_parquet(path / f"{sid}.X.parquet") if m["has_X"] else None
            ts = TrainingSeries(sid, df, [date.fromisoformat(d) for d in m["bridged"]], X, tuple(m["drivers"]))
            models[sid] = SeriesModel(
                sid, m["champion"], m["members"], ts, m["baseline_mase"], m["champion_mase"], tuple(m["drivers"])
            )
        hbm = json.loads((path / "hbm.json").read_text()) if (path / "hbm.json").exists() else None
        fc = cls(models, ForecasterMeta(**manifest["meta"]), hbm)
        fc._restore_cache(path)
        return fc

    def _restore_cache(self, path: Path) -> None:
        """Reload precomputed forecasts so serving them never refits a model."""
        if (path / "forecasts.parquet").exists():
            frames = pl.read_parquet(path / "forecasts.parquet")
            for (sid,), part in frames.partition_by("unique_id", as_dict=True).items():
                if sid not in self.models:
                    continue
                champ = self.models[str(sid)].champion
                f = ordered(_rename_to(part.drop("model"), "forecast", champ), champ, list(LEVELS))
                self._cache[(str(sid), f.height, LEVELS)] = f
        if (path / "outlooks.parquet").exists():
            outs = pl.read_parquet(path / "outlooks.parquet")
            for (sid,), part in outs.partition_by("unique_id", as_dict=True).items():
                self._cache[(str(sid), -1, ())] = part.drop("unique_id").sort("year")


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
