"""Rolling-origin evaluation that cannot flatter, and the predictive distribution it implies.

For one target, every *origin* is a date. At each origin the target's history is taken **as it was known
on that date** (``pipelines.panel.as_of`` on the vintage panel: later periods and later revisions are
invisible) and every zoo model forecasts ``max_h`` periods ahead. All origins are fitted in one
``StatsForecast.forecast`` call over a stacked frame (one ``unique_id`` per origin), on whichever engine
runs statsforecast (this process or a Dask cluster via fugue).

Then, origin by origin and using only what was known on that date:

* **Nested combination weights.** The served method is a combination of the members. Its weights at an
  origin come from the members' errors on earlier origins whose outcomes had been published by then:
  half equal weights, half inverse mean squared error (shrinkage toward equal weights, the classic cure for
  the "combination puzzle"). No weight ever sees an outcome published after its origin.
* **Empirical error paths.** Prediction intervals and simulated paths come from the method's own errors at
  earlier origins (working scale, i.e. log errors for positive series): each earlier origin contributes
  its whole error path, so errors keep their correlation across horizons and calendar-year totals get
  honest intervals. A path known only for its first steps (a recent origin) is completed with the later
  increments of a randomly chosen complete path (seeded). Intervals, fan charts and outlook totals all
  read the same paths.

Scoring (leaderboards, coverage) uses the latest published values and utilsforecast's metrics with the
cutoff column, so MASE is scaled per origin by the history known before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

import numpy as np
import polars as pl
from statsforecast.models import Naive
from utilsforecast.evaluation import evaluate
from utilsforecast.losses import bias, coverage, mae, mase, rmse, smape, winkler_score

from forecasting.data import NotEnoughDataError, TrainingSeries, log_scale, training_series
from forecasting.engine import Engine, LocalEngine, bulk_forecast
from forecasting.nowcast import Nowcast, bridge
from forecasting.targets import LEVELS, MIN_ORIGINS, TargetConfig
from forecasting.zoo import BASELINES, COMBINATION, ZOO, FitContext, ModelSpec, resolve_specs
from pipelines.panel import as_of

#: fewest member errors before weights move away from equal
MIN_WEIGHT_ERRORS = 12
#: share of the weight that always stays equal across members
SHRINKAGE = 0.5
#: fewest earlier error paths for empirical intervals; below it the random-walk bootstrap is used
MIN_PATHS = 5
#: sample paths drawn from the combination's mixture
N_SAMPLES = 1000
#: a member whose forecast exceeds this multiple of the largest published value gets no weight
PLAUSIBLE_MULTIPLE = 5.0


@dataclass
class Evaluation:
    """Everything the rolling-origin run produced for one target."""

    series_id: str
    cfg: TargetConfig
    log: bool
    specs: dict[str, ModelSpec]
    origins: pl.DataFrame
    #: origin_id, ds, h, model, yhat (working scale), for every zoo model and the combination
    forecasts: pl.DataFrame
    #: origin_id, model, weight: the nested combination weights at each origin
    weights: pl.DataFrame
    #: the target's prints: ds, y, published (a revised period has several)
    prints: pl.DataFrame
    #: training series per origin id (needed for scoring scales, refits and the served history)
    training: dict[int, TrainingSeries] = field(repr=False, default_factory=dict)
    #: per origin id, the nowcast the members continue from (targets with an indicator only)
    nowcasts: dict[int, Nowcast] = field(repr=False, default_factory=dict)
    _errors: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = field(repr=False, default_factory=dict)
    _implausible: dict[tuple[int, str], str | None] = field(repr=False, default_factory=dict)
    # lookups that path sampling repeats hundreds of thousands of times (a polars filter each would dominate
    # training); each is rebuilt when the frame it indexes is replaced
    _rows: tuple[pl.DataFrame, dict[int, dict[str, object]]] | None = field(repr=False, default=None)
    _points: tuple[pl.DataFrame, dict[tuple[int, str], np.ndarray]] | None = field(repr=False, default=None)
    _paths: dict[tuple[int, str], tuple[list[date], np.ndarray]] = field(repr=False, default_factory=dict)

    # -------------------------------------------------------------------------------- lookups
    def origin_row(self, origin_id: int) -> dict[str, object]:
        if self._rows is None or self._rows[0] is not self.origins:
            self._rows = (self.origins, {int(r["origin_id"]): r for r in self.origins.iter_rows(named=True)})
        return self._rows[1][origin_id]

    def seed(self, origin_id: int) -> int:
        """The origin's random seed, from the series and the origin's date: the same draws whatever else
        the evaluation contains."""
        return stable_seed(self.series_id, self.origin_row(origin_id)["origin"])

    @property
    def serving_id(self) -> int:
        return int(self.origins.filter(pl.col("kind") == "serving")["origin_id"][0])

    def work(self, y: pl.Expr) -> pl.Expr:
        return y.log() if self.log else y

    def unwork(self, y: np.ndarray) -> np.ndarray:
        return np.exp(y) if self.log else y

    def unwork_paths(self, paths: np.ndarray) -> np.ndarray:
        """Sample paths on the series' own scale. A non-negative series modelled on levels (it has a zero in
        its history, so no logs) can draw errors that cross zero; such a path is held at zero, so no band,
        annual total or scenario of a quantity that cannot be negative ever goes below it."""
        out = self.unwork(paths)
        return np.maximum(out, 0.0) if self.cfg.spec.nonnegative and not self.log else out

    def latest(self) -> pl.DataFrame:
        """``ds, y``: the outcomes to score against, as known on the evaluation's date (its serving origin).

        Never ``date.max``: re-running an evaluation ``--as-of`` a past date on a newer panel must score on
        what was published by then, or the same command reports different numbers as data arrives.
        """
        when = self.origin_row(self.serving_id)["origin"]
        assert isinstance(when, date)
        return self.known_at(when)

    def known_at(self, when: date) -> pl.DataFrame:
        """``ds, y``: the target's values as known on ``when`` (latest print published by then)."""
        return (
            self.prints.filter(pl.col("published") <= when)
            .sort("published", maintain_order=True)  # two prints of a period on one date: the later row wins
            .group_by("ds")
            .agg(pl.col("y").last())
            .sort("ds")
        )

    # -------------------------------------------------------------------------------- error paths
    def raw_errors(self, origin_id: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per model: (past origin ids, error matrix n_past x max_h with NaN where not yet known).

        Only earlier *rolling* origins contribute; an error counts once its outcome was published by
        this origin's date, with the value as known then.
        """
        hit = self._errors.get(origin_id)
        if hit is not None:
            return hit
        when = self.origin_row(origin_id)["origin"]
        assert isinstance(when, date)
        known = self.known_at(when).with_columns(self.work(pl.col("y")).alias("actual"))
        past_ids = self.origins.filter((pl.col("kind") == "rolling") & (pl.col("origin") < when))["origin_id"]
        errs = (
            self.forecasts.filter(pl.col("origin_id").is_in(past_ids.implode()))
            .join(known.select("ds", "actual"), on="ds", how="inner")
            .select("model", "origin_id", "h", (pl.col("actual") - pl.col("yhat")).alias("e"))
        )
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        members = set(self.cfg.members)
        for (model,), part in errs.partition_by("model", as_dict=True).items():
            if model in members:  # a member's errors where it got no weight are not errors of what was served
                ok = [o for o in part["origin_id"].unique().to_list() if implausible(self, int(o), str(model)) is None]
                part = part.filter(pl.col("origin_id").is_in(ok))
                if part.height == 0:
                    continue
            ids = np.array(sorted(part["origin_id"].unique().to_list()))
            mat = np.full((ids.size, self.cfg.max_h), np.nan)
            pos = {int(o): i for i, o in enumerate(ids)}
            rows = np.array([pos[int(o)] for o in part["origin_id"].to_list()])
            mat[rows, part["h"].to_numpy() - 1] = part["e"].to_numpy()
            out[str(model)] = (ids, mat)
        self._errors[origin_id] = out
        return out

    def error_paths(self, origin_id: int, model: str) -> np.ndarray:
        return self.keyed_error_paths(origin_id, model)[1]

    def keyed_error_paths(self, origin_id: int, model: str) -> tuple[list[date], np.ndarray]:
        """Completed error paths (n x max_h, working scale) of one model at an origin, keyed by the cutoff
        of the past origin each came from."""
        hit = self._paths.get((origin_id, model))
        if hit is not None:
            return hit
        got = self.raw_errors(origin_id).get(model)
        if got is None:
            return [], np.empty((0, self.cfg.max_h))
        ids, mat = got
        known = ~np.isnan(mat).all(axis=1)  # the rows complete_paths keeps
        cutoffs = [self.origin_row(int(i))["cutoff"] for i, k in zip(ids, known, strict=True) if k]
        out = (cutoffs, complete_paths(mat, seed=self.seed(origin_id)))
        out[1].flags.writeable = False  # shared by every later call
        self._paths[(origin_id, model)] = out  # type: ignore[assignment]
        return out  # type: ignore[return-value]

    def point(self, origin_id: int, model: str) -> np.ndarray:
        """Working-scale point path of ``model`` at an origin."""
        if self._points is None or self._points[0] is not self.forecasts:
            parts = self.forecasts.sort("h").partition_by("origin_id", "model", as_dict=True)
            points = {(int(k[0]), str(k[1])): v["yhat"].to_numpy(writable=True)  # type: ignore[arg-type]
                      for k, v in parts.items()}
            for arr in points.values():
                arr.flags.writeable = False  # shared by every later call
            self._points = (self.forecasts, points)
        return self._points[1].get((origin_id, model), np.empty(0))

    def sample_paths(self, origin_id: int, model: str = COMBINATION,
                     cutoffs: Sequence[date] | None = None) -> tuple[np.ndarray, np.ndarray, int, str]:
        """(point path, sample paths, distinct error paths, how) on the series' own scale at an origin.

        A single model's paths are its point plus its own error paths. The combination's paths are the
        *mixture* of its members' paths, drawn in proportion to the combination weights, so disagreement
        between members widens the bands instead of averaging away.

        ``cutoffs`` (one date per sample) makes sample ``i`` use an error path from the past origin with that
        cutoff where this series has one: series sampled with the same dates share their history of
        surprises, which is how several series' paths are drawn jointly (``forecasting.reconcile``). The
        distinct error paths returned are then at most the distinct cutoffs, so the finite-sample widening
        of the bands is not understated for a series drawn on another series' shorter history.
        """
        if model != COMBINATION:
            pt = self.point(origin_id, model)
            errs = self.error_paths(origin_id, model)
            if errs.shape[0] >= MIN_PATHS:
                return (self.unwork(pt), self.unwork_paths(pt[None, :] + errs), errs.shape[0],
                        f"empirical error paths at {errs.shape[0]} earlier origins")
            return self._fallback(origin_id, pt, errs.shape[0])
        w = self.weights.filter(pl.col("origin_id") == origin_id, pl.col("weight") > 0)
        members = w["model"].to_list()
        weights = np.array(w["weight"].to_list())
        per = {m: self.error_paths(origin_id, m) for m in members}
        n_eff = min(e.shape[0] for e in per.values())
        pt = self.point(origin_id, COMBINATION)
        if n_eff < MIN_PATHS:
            return self._fallback(origin_id, pt, n_eff, N_SAMPLES if cutoffs is None else len(cutoffs))
        rng = np.random.default_rng(self.seed(origin_id) + 1)
        n = N_SAMPLES if cutoffs is None else len(cutoffs)
        pick = rng.choice(len(members), size=n, p=weights / weights.sum())
        paths = np.empty((n, self.cfg.max_h))
        for k, m in enumerate(members):
            idx = np.flatnonzero(pick == k)
            keys, errs = self.keyed_error_paths(origin_id, m)
            rows = rng.integers(errs.shape[0], size=idx.size)
            if cutoffs is not None:
                where = {c: j for j, c in enumerate(keys)}
                rows = np.array([where.get(cutoffs[int(i)], int(r)) for i, r in zip(idx, rows, strict=True)],
                                dtype=np.int64)
            paths[idx] = self.point(origin_id, m)[None, :] + errs[rows]
        if cutoffs is not None:  # drawn jointly: only the shared past origins' error paths are in play
            n_eff = min(n_eff, len(set(cutoffs)))
        how = (f"mixture of the members' empirical error paths ({n_eff}+ earlier origins each), "
               "drawn by combination weight")
        return self.unwork(pt), self.unwork_paths(paths), n_eff, how

    def _fallback(self, origin_id: int, pt: np.ndarray, n_known: int,
                  n: int = 0) -> tuple[np.ndarray, np.ndarray, int, str]:
        ts = self.training[origin_id]
        errs = random_walk_paths(ts.working(self.log)["y"].to_numpy(), self.cfg.max_h,
                                 seed=self.seed(origin_id), n=n or N_SAMPLES)
        how = (f"random-walk bootstrap of past changes (only {n_known} earlier origins had outcomes; "
               f"{MIN_PATHS} needed for empirical error paths; not drawn jointly with other series)")
        return self.unwork(pt), self.unwork_paths(pt[None, :] + errs), n_known, how


def stable_seed(*parts: object) -> int:
    """A seed from names and dates (never from positions in a list, which shift when data arrives)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "little")


def complete_paths(mat: np.ndarray, seed: int) -> np.ndarray:
    """Error paths with every step filled: holes bridged, unknown tails borrowed from complete paths.

    Rows are error paths; NaN marks a step whose outcome is unknown. A step inside the known part (an
    outcome missing from the data, such as the 2025-08 WSTS gap) is interpolated between its neighbours, so
    the errors known after it are kept (a leading hole takes the first known error). The unknown tail after
    the last known step is filled with the (centred) later increments of a randomly chosen complete path
    (seeded). Rows with no known value are dropped. Without any complete path, tails grow like the square
    root of the horizon from the last known error.
    """
    h = mat.shape[1] if mat.ndim == 2 else 0
    known = ~np.isnan(mat)
    keep = known.any(axis=1) if mat.size else np.zeros(0, dtype=bool)
    mat, known = mat[keep], known[keep]
    if mat.size == 0:
        return np.empty((0, h))
    steps_idx = np.arange(h)
    known_len = h - np.argmax(known[:, ::-1], axis=1)  # through the last known step
    out = mat.copy()
    for i in np.flatnonzero((~known).any(axis=1)):
        k = int(known_len[i])
        holes = ~known[i, :k]
        if holes.any():
            out[i, :k][holes] = np.interp(steps_idx[:k][holes], steps_idx[:k][~holes], mat[i, :k][~holes])
    complete = out[known_len == h]
    rng = np.random.default_rng(seed)
    for i in np.flatnonzero(known_len < h):
        k = int(known_len[i])
        last = out[i, k - 1]
        if complete.shape[0]:
            # the donors' later increments, centred: the tail adds spread, not the donors' own bias (a path
            # already wrong in a boom must not also inherit another boom's drift)
            steps = complete[:, k:] - complete[:, k - 1:k]
            donor = steps[rng.integers(complete.shape[0])] - steps.mean(axis=0)
            out[i, k:] = last + donor
        else:
            out[i, k:] = last * np.sqrt(np.arange(k + 1, h + 1) / k)
    return out


def random_walk_paths(y: np.ndarray, h: int, seed: int, n: int = 200) -> np.ndarray:
    """Error paths from resampled past one-period changes (demeaned): the fallback for short histories."""
    d = np.diff(y)
    d = d - d.mean() if d.size else np.zeros(1)
    rng = np.random.default_rng(seed)
    return rng.choice(d, size=(n, h), replace=True).cumsum(axis=1)


def interval_bounds(paths: np.ndarray, levels: Sequence[int], n_eff: int | None = None,
                    axis: int = 0, point: np.ndarray | float | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Quantile bounds of sample paths for each level, with the split-conformal finite-sample correction.

    With ``n_eff`` distinct error paths behind the samples, the upper quantile is taken at
    ``(1 - a)(n + 1)/n`` instead of ``1 - a`` (and the lower symmetrically), so a band built on few past
    origins is not narrower than those origins can support.

    With ``point``, each band is extended to contain it. Where every past error at a step had the same sign
    (capex three years out after years of surges the models under-forecast), the quantiles alone would put
    the whole band on one side of the served point, a band that contradicts its own forecast; extending it
    can only widen it, and the evaluation scores the same extended bands that are served.
    """
    out = {}
    for lv in levels:
        a = (100 - lv) / 200
        hi_q = 1 - a if not n_eff else min(1.0, (1 - a) * (n_eff + 1) / n_eff)
        lo, hi = np.quantile(paths, [1 - hi_q, hi_q], axis=axis)
        if point is not None:
            lo, hi = np.minimum(lo, point), np.maximum(hi, point)
        out[lv] = (lo, hi)
    return out


# ------------------------------------------------------------------------------------------ origins


def origin_dates(prints: pl.DataFrame, cfg: TargetConfig, when: date, extra: Sequence[date] = ()) -> pl.DataFrame:
    """Rolling origins (each first publication of a period), extra dates (track record) and ``when``."""
    first = prints.group_by("ds").agg(pl.col("published").min()).sort("ds")
    first = first.filter(pl.col("published") <= when)
    if first.height <= cfg.min_train:
        rolling: list[date] = []
    else:
        dates = first["published"].to_list()[cfg.min_train - 1:-1]
        # every origin_step-th origin counting from the first eligible one, so the spacing does not shift when
        # a period is published; the newest max_origins are kept
        rolling = dates[:: cfg.origin_step][-cfg.max_origins:]
    rows = [(d, "rolling") for d in rolling]
    rows += [(d, "extra") for d in sorted(set(extra)) if d < when]
    rows.append((when, "serving"))
    return pl.DataFrame({"origin": [r[0] for r in rows], "kind": [r[1] for r in rows]},
                        schema={"origin": pl.Date, "kind": pl.String}).sort("origin", "kind")


# ------------------------------------------------------------------------------------------ the run


def evaluate_target(
    panel: pl.DataFrame,
    cfg: TargetConfig,
    when: date,
    *,
    extra_origins: Sequence[date] = (),
    engine: Engine | None = None,
) -> Evaluation:
    """Fit every zoo model at every origin on data as known then; nested combination weights per origin.

    ``panel`` is the vintage panel (``load_panel(vintages=True)``) or a latest-vintage one (then revisions
    cannot be unwound, but publication dates still are).
    """
    sid = cfg.series_id
    prints = panel.filter(pl.col("unique_id") == sid).select("unique_id", "ds", "y", "period_end", "published")
    if prints.height == 0:
        raise NotEnoughDataError(f"{sid} has no published observations in this data")
    dates = origin_dates(prints, cfg, when, extra_origins)
    training: dict[int, TrainingSeries] = {}
    rows: list[dict[str, object]] = []
    for r in dates.iter_rows(named=True):
        try:
            ts = training_series(as_of(prints, r["origin"]), cfg)
        except NotEnoughDataError:
            if r["kind"] == "serving":
                raise
            continue
        oid = len(rows)
        training[oid] = ts
        rows.append({"origin_id": oid, "origin": r["origin"], "cutoff": ts.cutoff, "n_train": ts.n,
                     "kind": r["kind"]})
    origins = pl.DataFrame(rows, schema={"origin_id": pl.Int64, "origin": pl.Date, "cutoff": pl.Date,
                                         "n_train": pl.Int64, "kind": pl.String})
    serving = training[int(origins.filter(pl.col("kind") == "serving")["origin_id"][0])]
    log = log_scale(serving, cfg)
    ctx = FitContext(cfg.frequency, int(origins["n_train"].min()))  # type: ignore[arg-type]
    specs = resolve_specs(cfg.models, ctx)
    nowcasts: dict[int, Nowcast] = {}
    if cfg.nowcast:
        for r in origins.iter_rows(named=True):
            ts = training[r["origin_id"]]
            nowcasts[r["origin_id"]] = bridge(ts.df, panel, r["origin"], cfg.spec, cfg.nowcast)
    runner = engine or LocalEngine()
    member_names = [m for m in specs if m in cfg.members]
    reference_names = [m for m in specs if m not in cfg.members]
    groups = [(member_names, {oid: nc.extended for oid, nc in nowcasts.items()}), (reference_names, {})] \
        if nowcasts else [(list(specs), {})]
    parts = []
    for names, frames in groups:
        stacked = pl.concat([
            (frames.get(oid, ts.df)).with_columns(pl.col("y").log() if log else pl.col("y"),
                                                  pl.lit(str(oid)).alias("unique_id"))
            for oid, ts in training.items()])
        wide = bulk_forecast(runner, stacked, [specs[n].build() for n in names], cfg.frequency.interval, cfg.max_h,
                             fallback_model=Naive())
        parts.append(wide.unpivot(index=["unique_id", "ds"], on=names, variable_name="model", value_name="yhat")
                     .with_columns(pl.col("unique_id").cast(pl.Int64).alias("origin_id")))
    if nowcasts:  # members' paths start with the nowcast months, then continue from them
        parts.append(_nowcast_rows(nowcasts, member_names, log))
    forecasts = (
        pl.concat([p.select("origin_id", "ds", "model", "yhat") for p in parts])
        .with_columns(pl.col("ds").rank("ordinal").over("origin_id", "model").cast(pl.Int64).alias("h"))
        .filter(pl.col("h") <= cfg.max_h)
        .select("origin_id", "ds", "h", "model", "yhat")
    )
    ev = Evaluation(sid, cfg, log, specs, origins, forecasts, pl.DataFrame(), prints.drop("unique_id"), training,
                    nowcasts)
    members = member_names
    if not members:
        raise NotEnoughDataError(f"{sid}: no combination member applies to this history")
    ev.weights, combo = _nested_combination(ev, members)
    ev.forecasts = pl.concat([forecasts, combo]).sort("origin_id", "model", "h")
    return ev


def _nowcast_rows(nowcasts: dict[int, Nowcast], members: list[str], log: bool) -> pl.DataFrame:
    """The nowcast months as every member's first forecast steps (working scale)."""
    rows = [(oid, d, m, float(np.log(y) if log else y))
            for oid, nc in nowcasts.items()
            for d, y in nc.extended.filter(pl.col("ds").is_in(list(nc.months)))[["ds", "y"]].iter_rows()
            for m in members]
    return pl.DataFrame(rows, schema={"origin_id": pl.Int64, "ds": pl.Date, "model": pl.String, "yhat": pl.Float64},
                        orient="row")


def _nested_combination(ev: Evaluation, members: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Weights at each origin from members' errors known then; the combination's forecasts."""
    cfg = ev.cfg
    member_fc = ev.forecasts.filter(pl.col("model").is_in(members))
    weight_rows = []
    for r in ev.origins.sort("origin").iter_rows(named=True):
        when = r["origin"]
        past = ev.origins.filter((pl.col("kind") == "rolling") & (pl.col("origin") < when))["origin_id"]
        known = ev.known_at(when).with_columns(ev.work(pl.col("y")).alias("actual"))
        errs = (
            member_fc.filter(pl.col("origin_id").is_in(past.implode()), pl.col("h") <= cfg.primary_h)
            .join(known.select("ds", "actual"), on="ds", how="inner")
            .group_by("model")
            .agg(((pl.col("actual") - pl.col("yhat")) ** 2).mean().alias("mse"), pl.len().alias("n"))
        )
        mse = dict(zip(errs["model"].to_list(), errs["mse"].to_list(), strict=True))
        n = dict(zip(errs["model"].to_list(), errs["n"].to_list(), strict=True))
        ok = [m for m in members if implausible(ev, r["origin_id"], m) is None] or members
        equal = 1.0 / len(ok)
        if all(n.get(m, 0) >= MIN_WEIGHT_ERRORS and mse.get(m, 0) > 0 for m in ok):
            inv = {m: 1.0 / mse[m] for m in ok}
            total = sum(inv.values())
            w = {m: SHRINKAGE * equal + (1 - SHRINKAGE) * inv[m] / total for m in ok}
        else:
            w = dict.fromkeys(ok, equal)
        weight_rows += [{"origin_id": r["origin_id"], "model": m, "weight": w.get(m, 0.0)} for m in members]
    weights = pl.DataFrame(weight_rows, schema={"origin_id": pl.Int64, "model": pl.String, "weight": pl.Float64})
    combo = (
        member_fc.join(weights, on=["origin_id", "model"])
        .group_by("origin_id", "ds", "h")
        .agg((pl.col("yhat") * pl.col("weight")).sum().alias("yhat"))
        .with_columns(pl.lit(COMBINATION).alias("model"))
        .select("origin_id", "ds", "h", "model", "yhat")
    )
    return weights, combo


def implausible(ev: Evaluation, origin_id: int, model: str) -> str | None:
    """Why a member's forecast at an origin is not credible (then it gets no weight there), or None.

    Backtests measure past windows; a model can still extrapolate a recent surge into an explosion
    (Micron's recursive models once reached 21x the record quarter) or a slump into a collapse (ARIMA on
    SK hynix's 2023 trough ran revenue down to a millionth of it within three years). The same rule applies
    at every origin, so the method that is scored is the method that is served.
    """
    key = (origin_id, model)
    if key not in ev._implausible:
        ev._implausible[key] = _implausible(ev, origin_id, model)
    return ev._implausible[key]


def _implausible(ev: Evaluation, origin_id: int, model: str) -> str | None:
    observed = ev.training[origin_id].observed()["y"]
    top = float(observed.abs().max())  # type: ignore[arg-type]
    pt = ev.unwork(ev.point(origin_id, model))
    if pt.size == 0 or not np.isfinite(pt).all():
        return "forecast is not finite"
    if ev.cfg.spec.nonnegative and float(pt.min()) < 0:
        return f"forecast goes negative ({float(pt.min()):,.3g})"
    peak = float(np.abs(pt).max())
    if top > 0 and peak > PLAUSIBLE_MULTIPLE * top:
        return f"forecast reaches {peak / top:.1f}x the largest published value within {ev.cfg.max_h} periods"
    low = float(observed.min())  # type: ignore[arg-type]
    if ev.cfg.spec.nonnegative and low > 0 and float(pt.min()) < low / PLAUSIBLE_MULTIPLE:
        return (f"forecast falls to 1/{low / float(pt.min()):.1f} of the smallest published value within "
                f"{ev.cfg.max_h} periods")
    return None


# ------------------------------------------------------------------------------------------ scoring


def scored_origins(ev: Evaluation) -> list[int]:
    """Rolling origins whose method already had enough earlier errors for empirical intervals."""
    out = []
    for oid in ev.origins.filter(pl.col("kind") == "rolling").sort("origin")["origin_id"].to_list():
        if ev.sample_paths(oid)[2] >= MIN_PATHS:
            out.append(oid)
    return out


def cv_frame(ev: Evaluation, origin_ids: Sequence[int], models: Sequence[str],
             levels: Sequence[int] = LEVELS) -> pl.DataFrame:
    """Nixtla CV frame (``unique_id, ds, cutoff, y, <model>, <model>-lo-<l>, ...``) on the series' scale.

    Intervals at each origin come from that origin's own error paths; ``y`` is the latest published value.
    """
    latest = ev.latest().select("ds", "y")
    bridged = set()
    for ts in ev.training.values():
        bridged |= set(ts.bridged)
    frames = []
    for oid in origin_ids:
        row = ev.origin_row(oid)
        cols: dict[str, pl.Series] = {}
        base = None
        for m in models:
            point, paths, n_eff, _ = ev.sample_paths(oid, m)
            bounds = interval_bounds(paths, levels, n_eff, point=point)
            fc = ev.forecasts.filter(pl.col("origin_id") == oid, pl.col("model") == m).sort("h")
            if base is None:
                base = fc.select("ds", "h")
            cols[m] = pl.Series(m, point)
            for lv, (lo, hi) in bounds.items():
                cols[f"{m}-lo-{lv}"] = pl.Series(f"{m}-lo-{lv}", lo)
                cols[f"{m}-hi-{lv}"] = pl.Series(f"{m}-hi-{lv}", hi)
        assert base is not None
        frames.append(base.with_columns(pl.lit(ev.series_id).alias("unique_id"),
                                        pl.lit(row["cutoff"]).cast(pl.Date).alias("cutoff"), *cols.values()))
    cv = pl.concat(frames).join(latest, on="ds", how="inner")
    if bridged:
        cv = cv.filter(~pl.col("ds").is_in(sorted(bridged)))
    value_cols = [c for c in frames[0].columns if c not in ("ds", "h", "unique_id", "cutoff")]
    return cv.select("unique_id", "ds", "cutoff", "h", "y", *value_cols)


#: a helper column: a forecast that misses by exactly 1, whose MASE is 1 / the origin's scale
_UNIT = "_unit_error"
#: the leaderboard's score columns (``forecasting.train`` adds the labels: served, role, weight, ...)
BOARD_SCHEMA = {"model": pl.String, "horizon": pl.Int64, "mase": pl.Float64, "smape": pl.Float64,
                "mae": pl.Float64, "rmse": pl.Float64, "bias": pl.Float64, "coverage_80": pl.Float64,
                "coverage_95": pl.Float64, "winkler_80": pl.Float64, "winkler_95": pl.Float64,
                "windows": pl.Int64}


def origin_training(ev: Evaluation, origin_ids: Sequence[int]) -> pl.DataFrame:
    """``unique_id, ds, cutoff, y``: the history known at each origin, which scales MASE per origin.

    On the regular grid with a null where a period is a gap (bridged for fitting, never published):
    utilsforecast's seasonal difference is a row shift, so dropping the row would compare some months with
    the month 13 periods earlier; a null drops just the differences that touch the gap.
    """
    frames = []
    for oid in origin_ids:
        ts = ev.training[oid]
        gap = pl.col("ds").is_in(list(ts.bridged))
        frames.append(ts.df.with_columns(pl.when(gap).then(None).otherwise(pl.col("y")).alias("y"),
                                         pl.lit(ev.origin_row(oid)["cutoff"]).cast(pl.Date).alias("cutoff")))
    return pl.concat(frames).select("unique_id", "ds", "cutoff", "y")


def leaderboard(ev: Evaluation, horizons: Sequence[int] | None = None) -> pl.DataFrame:
    """Per model and horizon: MASE, sMAPE, MAE, RMSE, bias, coverage and scaled Winkler score.

    Every model is scored on the same origins and steps, with intervals built the same nested way.
    """
    cfg = ev.cfg
    models = [*[m for m in ZOO if m in ev.specs], COMBINATION]
    ids = scored_origins(ev)
    if len(ids) < MIN_ORIGINS:
        return pl.DataFrame(schema=BOARD_SCHEMA)
    return score_cv(cv_frame(ev, ids, models), origin_training(ev, ids), models,
                    horizons or sorted({cfg.primary_h, cfg.default_h}), cfg.frequency.periods_per_year, len(ids))


def score_cv(cv: pl.DataFrame, train: pl.DataFrame, models: Sequence[str], horizons: Sequence[int],
             season: int, windows: int) -> pl.DataFrame:
    """Leaderboard rows of a Nixtla CV frame (with ``h``) from ``windows`` origins, MASE scaled per (series,
    cutoff) by ``train`` (``unique_id, ds, cutoff, y``); Winkler scores divided by the same scale, like MASE."""
    # utilsforecast scales per (id, cutoff) with the training rows of that cutoff
    keyed = pl.concat_str("unique_id", pl.lit("|"), pl.col("cutoff").cast(pl.String)).alias("unique_id")
    train = train.with_columns(keyed).drop("cutoff")
    models = list(models)
    rows: list[dict[str, object]] = []
    for h in horizons:
        sub = cv.filter(pl.col("h") <= h).with_columns(keyed)
        metrics: list[Callable[..., Any]] = [partial(mase, seasonality=season), smape, mae, rmse, bias, coverage,
                   partial(winkler_score, level=80), partial(winkler_score, level=95)]
        train_h = train.filter(pl.col("unique_id").is_in(sub["unique_id"].unique().implode()))
        ev_df = evaluate(sub.drop("h", "cutoff"), metrics=metrics, models=models, train_df=train_h,
                         level=list(LEVELS))
        # Winkler scores divided by each origin's own MASE scale before averaging, the same divisor for
        # every model: utilsforecast's scale, read as 1 / MASE of a forecast that misses by exactly 1
        unit = mase(sub.select("unique_id", "ds", "y", (pl.col("y") + 1.0).alias(_UNIT)), models=[_UNIT],
                    seasonality=season, train_df=train_h)
        ev_df = (ev_df.join(unit.select("unique_id", pl.col(_UNIT).alias("_inv_scale")), on="unique_id", how="left")
                 .with_columns([pl.when(pl.col("metric").str.starts_with("winkler"))
                                .then(pl.col(m) * pl.col("_inv_scale")).otherwise(pl.col(m)).alias(m)
                                for m in models]))
        per = ev_df.group_by("metric").agg([pl.col(m).mean() for m in models])
        table = {r["metric"]: r for r in per.iter_rows(named=True)}
        for m in models:
            mase_v = table["mase"][m]
            rows.append({
                "model": m, "horizon": h, "mase": mase_v, "smape": table["smape"][m], "mae": table["mae"][m],
                "rmse": table["rmse"][m], "bias": table["bias"][m],
                "coverage_80": table.get("coverage_level80", {}).get(m),
                "coverage_95": table.get("coverage_level95", {}).get(m),
                "winkler_80": _winkler(table, m, 80),
                "winkler_95": _winkler(table, m, 95),
                "windows": windows,
            })
    return pl.DataFrame(rows, schema=BOARD_SCHEMA)


def _winkler(table: dict[str, dict[str, float]], model: str, level: int) -> float | None:
    key = next((k for k in table if k.startswith("winkler_score") and k.endswith(str(level))), None)
    v = None if key is None else table[key][model]
    return None if v is None or not np.isfinite(v) else float(v)


def best_baseline(board: pl.DataFrame, horizon: int) -> tuple[str, float] | None:
    at = board.filter(pl.col("horizon") == horizon, pl.col("model").is_in(list(BASELINES)),
                      pl.col("mase").is_finite()).sort("mase")
    return (str(at["model"][0]), float(at["mase"][0])) if at.height else None
