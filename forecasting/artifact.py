"""The trained artifact: per series, the served method and its predictive distribution at the serving origin.

A :class:`SeriesModel` holds what a forecast needs and nothing that must be refitted: the point path and
sample paths for the longest served horizon (on the series' own scale), the published history they
continue, the resolved member configurations and weights, the backtest leaderboard and the data status.
Any horizon up to the maximum and any level in 50..99 is read off those paths in milliseconds, and
calendar-year outlooks total the same paths with the catalog's annual rule (``pipelines.features.annual_totals``),
so the fan chart, the intervals and the outlook can never disagree.

The :class:`Forecaster` saves as a directory of parquet + JSON (no pickles) and loads without fitting
anything; a test checks that refitting the stored member configurations on the stored training data
reproduces the stored point forecasts exactly.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from forecasting.evaluation import interval_bounds
from forecasting.result import (
    DataStatus,
    ForecastResult,
    Interval,
    Member,
    MethodInfo,
    OutlookYear,
    Point,
)
from forecasting.targets import LEVEL_RANGE, LEVELS, MAX_HORIZON
from forecasting.zoo import ModelSpec
from pipelines.catalog import CATALOG, Frequency, SeriesSpec
from pipelines.features import annual_totals

#: outlook years served by default (the current forecast year and the next)
DEFAULT_OUTLOOK_YEARS = 2
#: most calendar years an outlook may cover
MAX_OUTLOOK_YEARS = 4


class ForecastRequestError(ValueError):
    """A forecast request outside what the model serves (horizon, level, series)."""


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class SeriesModel:
    """One served series at the serving origin: method, distribution, history and evidence."""

    spec: SeriesSpec
    kind: str  # "fitted" (backtested combination), "structural" (HBM) or "derived"
    method: MethodInfo
    data: DataStatus
    #: ds, y: the published values the forecast continues (bridged periods excluded)
    history: pl.DataFrame
    #: first forecast period
    start: date
    #: point path and sample paths (n x max_h) on the series' own scale
    point: np.ndarray
    paths: np.ndarray
    #: distinct error paths behind the samples (for the finite-sample interval correction; 0 = none)
    n_eff: int
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    leaderboard: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: unique_id, ds, y: what the members were fitted on at the serving origin (bridged periods filled,
    #: nowcast months appended where the target has a nowcast)
    training: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: model, h, yhat: each zoo model's working-scale point path at the serving origin
    member_points: pl.DataFrame = field(default_factory=pl.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def series_id(self) -> str:
        return self.spec.id

    @property
    def frequency(self) -> Frequency:
        return self.spec.frequency

    @property
    def max_h(self) -> int:
        return int(self.point.size)

    def dates(self, h: int | None = None) -> list[date]:
        return [self.frequency.offset(self.start, i) for i in range(h or self.max_h)]

    # -------------------------------------------------------------------------------- reading the paths
    def intervals(self, h: int, levels: Sequence[int]) -> list[Point]:
        bounds = interval_bounds(self.paths[:, :h], sorted(levels), self.n_eff or None, point=self.point[:h])
        pts = []
        for i, d in enumerate(self.dates(h)):
            ivs = tuple(Interval(lv, float(bounds[lv][0][i]), float(bounds[lv][1][i])) for lv in sorted(levels))
            pts.append(Point(d, float(self.point[i]), ivs))
        return pts

    def outlook(self, levels: Sequence[int] = LEVELS, years: int = DEFAULT_OUTLOOK_YEARS,
                through_h: int | None = None) -> list[OutlookYear]:
        """Calendar years that published plus forecast periods complete, with growth and path intervals.

        ``years`` counts calendar years from the first forecast year; ``through_h`` limits the forecast
        periods used (a forecast request's horizon). Totals, intervals and growth are computed per sample
        path with the catalog rule, never by adding interval bounds.
        """
        h = min(self.max_h, through_h or self.max_h)
        first_year = self.start.year
        last_year = first_year + years - 1
        dates = self.dates(h)
        keep = [i for i, d in enumerate(dates) if d.year <= last_year]
        if not keep:
            return []
        fdates = [dates[i] for i in keep]
        hist = self.history.filter(pl.col("ds").dt.year().is_between(first_year - 1, last_year),
                                   pl.col("ds") < self.start).select("ds", "y")
        fc = pl.DataFrame({"ds": fdates, "y": self.point[keep]}, schema={"ds": pl.Date, "y": pl.Float64})
        point_tot = annual_totals(pl.concat([hist, fc]), self.spec)
        published = annual_totals(hist, self.spec, complete_only=False).select("year", pl.col("n_periods").alias("pub"))
        forecast = annual_totals(fc, self.spec, complete_only=False).select("year", pl.col("n_periods").alias("fc"))
        n = self.paths.shape[0]
        by_year = self.annual_samples(h, last_year)
        pt = dict(zip(point_tot["year"].to_list(), point_tot["y"].to_list(), strict=True))
        pubs = dict(zip(published["year"].to_list(), published["pub"].to_list(), strict=True))
        fcs = dict(zip(forecast["year"].to_list(), forecast["fc"].to_list(), strict=True))
        rows = []
        for year in range(first_year, last_year + 1):
            if year not in pt or year not in by_year or fcs.get(year, 0) == 0:
                continue
            sims = by_year[year]
            ivs = _band(sims, levels, self.n_eff, float(pt[year]))
            growth, prior = None, pt.get(year - 1)
            g_ivs: tuple[Interval, ...] = ()
            if prior is not None:
                prev = by_year.get(year - 1)
                prev = prev if prev is not None else np.full(n, prior)
                growth = 100 * (pt[year] / prior - 1) if prior else None
                g_ivs = _band(100 * (sims / prev - 1), levels, self.n_eff, growth)
            rows.append(OutlookYear(year, float(pt[year]), ivs, growth, g_ivs, prior, int(pubs.get(year, 0)),
                                    int(fcs.get(year, 0))))
        return rows

    def annual_samples(self, through_h: int | None = None, last_year: int | None = None) -> dict[int, np.ndarray]:
        """Per complete calendar year, its total on every sample path (published periods added to each).

        The one place paths become calendar years, by the catalog's rule (``annual_totals`` with
        ``by=("sample_id",)``); outlooks, HBM and the reconciled series all read it.
        """
        dates = self.dates(min(self.max_h, through_h or self.max_h))
        keep = [i for i, d in enumerate(dates) if last_year is None or d.year <= last_year]
        if not keep:
            return {}
        fdates = [dates[i] for i in keep]
        years = {d.year for d in fdates}
        hist = self.history.filter(pl.col("ds").dt.year().is_between(min(years) - 1, max(years)),
                                   pl.col("ds") < self.start).select("ds", "y")
        n = self.paths.shape[0]
        sample = pl.DataFrame({"sample_id": np.repeat(np.arange(n), len(keep)), "ds": fdates * n,
                               "y": self.paths[:, keep].reshape(-1)},
                              schema={"sample_id": pl.Int64, "ds": pl.Date, "y": pl.Float64})
        hist_s = hist.join(pl.DataFrame({"sample_id": np.arange(n)}, schema={"sample_id": pl.Int64}), how="cross")
        tot = annual_totals(pl.concat([hist_s.select("sample_id", "ds", "y"), sample]), self.spec, by=("sample_id",))
        return {int(y): part.sort("sample_id")["y"].to_numpy()
                for (y,), part in tot.partition_by("year", as_dict=True).items()}

    def result(self, h: int | None = None, levels: Sequence[int] = LEVELS, *, outlook_years: int | None = None,
               notes: Sequence[str] = ()) -> ForecastResult:
        """The forecast for ``h`` periods (default: the served default) with the outlook of the years it reaches."""
        check_request(self, h, levels)
        h = h or default_horizon(self)
        pts = self.intervals(h, levels)
        last = pts[-1].ds.year if pts else self.start.year
        years = outlook_years if outlook_years is not None else max(1, last - self.start.year + 1)
        return ForecastResult(
            series_id=self.series_id, name=self.spec.name, unit=self.spec.unit, frequency=str(self.frequency),
            horizon=h, levels=tuple(sorted(levels)), points=pts,
            outlook=self.outlook(levels, years=years, through_h=h if outlook_years is None else None),
            method=self.method, data=self.data, notes=[*self.notes, *notes],
        )


def _band(values: np.ndarray, levels: Sequence[int], n_eff: int, point: float | None) -> tuple[Interval, ...]:
    b = interval_bounds(values, sorted(levels), n_eff or None, point=point)
    return tuple(Interval(lv, float(b[lv][0]), float(b[lv][1])) for lv in sorted(levels))


def default_horizon(sm: SeriesModel) -> int:
    from forecasting.targets import DEFAULT_HORIZON

    return min(DEFAULT_HORIZON[sm.frequency], sm.max_h)


def check_request(sm: SeriesModel, h: int | None, levels: Sequence[int]) -> None:
    """Refuse what the series cannot serve, with the allowed range in the message."""
    _check_limits(sm.frequency, min(MAX_HORIZON[sm.frequency], sm.max_h), h, levels)


def precheck_request(spec: SeriesSpec, h: int | None, levels: Sequence[int], as_of: date | None = None) -> None:
    """What can be refused before a model is trained (its frequency's horizon limit, the levels, an as-of date
    after today): an as-of forecast trains for minutes, and a request it would refuse should not wait for it."""
    check_as_of(as_of)
    _check_limits(spec.frequency, MAX_HORIZON[spec.frequency], h, levels)


def check_as_of(as_of: date | None) -> None:
    """Refuse an as-of date after today: nothing is published then, and staleness would count from it."""
    if as_of is not None and as_of > date.today():
        raise ForecastRequestError(f"the as-of date {as_of} is after today ({date.today()}): nothing is known then")


def _check_limits(frequency: Frequency, hmax: int, h: int | None, levels: Sequence[int]) -> None:
    if h is not None and not 1 <= h <= hmax:
        raise ForecastRequestError(f"horizon must be between 1 and {hmax} for {frequency} series, got {h}")
    lo, hi = LEVEL_RANGE
    bad = [lv for lv in levels if not lo <= lv <= hi]
    if bad:
        raise ForecastRequestError(f"levels must be between {lo} and {hi}, got {bad}")
    if not levels:
        raise ForecastRequestError("give at least one interval level, e.g. 80")


# ------------------------------------------------------------------------------------------ the artifact


@dataclass
class ForecasterMeta:
    trained_at: str
    #: sha256 (16 hex) of the panel the models were trained on
    data_hash: str
    #: the serving origin: data as known on this date
    as_of: str
    extra: dict[str, Any] = field(default_factory=dict)


class Forecaster:
    """Every served series of one training run; results are read off stored paths (bounded LRU cache)."""

    CACHE_ENTRIES = 256

    def __init__(self, models: dict[str, SeriesModel], meta: ForecasterMeta,
                 hbm: dict[str, Any] | None = None, track_record: pl.DataFrame | None = None) -> None:
        self.models = models
        self.meta = meta
        #: the HBM model's calibrated assumptions (see forecasting.hbm)
        self.hbm = hbm
        self.track_record = track_record if track_record is not None else pl.DataFrame()
        self._cache: OrderedDict[tuple[Any, ...], ForecastResult] = OrderedDict()
        self._lock = threading.Lock()

    def series(self, series_id: str) -> SeriesModel:
        try:
            return self.models[series_id]
        except KeyError:
            raise ForecastRequestError(
                f"{series_id} is not forecast by this model; forecast series: {', '.join(sorted(self.models))}"
            ) from None

    def result(self, series_id: str, h: int | None = None, levels: Sequence[int] = LEVELS,
               outlook_years: int | None = None) -> ForecastResult:
        key = (series_id, h, tuple(sorted(set(levels))), outlook_years)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        res = self.series(series_id).result(h, key[2], outlook_years=outlook_years)
        with self._lock:
            self._cache[key] = res
            while len(self._cache) > self.CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return res

    def cache_size(self) -> int:
        with self._lock:
            return len(self._cache)

    # -------------------------------------------------------------------------------- persistence
    def save(self, path: Path) -> None:
        """A directory of parquet + JSON: manifest, then per series its paths, history and evidence."""
        path.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {"format": 2, "meta": asdict(self.meta), "series": {}}
        for sid, sm in self.models.items():
            d = path / sid
            d.mkdir(exist_ok=True)
            n, h = sm.paths.shape
            pl.DataFrame({"sample_id": np.repeat(np.arange(n), h), "h": np.tile(np.arange(1, h + 1), n),
                          "y": sm.paths.reshape(-1)}).write_parquet(d / "paths.parquet")
            pl.DataFrame({"h": np.arange(1, h + 1), "y": sm.point}).write_parquet(d / "point.parquet")
            sm.history.write_parquet(d / "history.parquet")
            sm.leaderboard.write_parquet(d / "leaderboard.parquet")
            sm.training.write_parquet(d / "training.parquet")
            sm.member_points.write_parquet(d / "member_points.parquet")
            manifest["series"][sid] = {
                "spec": sm.spec.id if sm.spec.id in CATALOG else _spec_dict(sm.spec),
                "kind": sm.kind,
                "start": sm.start.isoformat(),
                "n_eff": sm.n_eff,
                "specs": {k: v.to_dict() for k, v in sm.specs.items()},
                "method": _method_dict(sm.method),
                "data": _data_dict(sm.data),
                "notes": sm.notes,
            }
        if self.hbm is not None:
            (path / "hbm.json").write_text(json.dumps(self.hbm, indent=2, sort_keys=True, default=str))
        if self.track_record.height:
            self.track_record.write_parquet(path / "track_record.parquet")
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Forecaster:
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format") != 2:
            raise ValueError(f"{path} is not a chipcast model directory of format 2")
        models: dict[str, SeriesModel] = {}
        for sid, m in manifest["series"].items():
            d = path / sid
            spec = CATALOG[m["spec"]] if isinstance(m["spec"], str) else _spec_from(m["spec"])
            point = pl.read_parquet(d / "point.parquet").sort("h")["y"].to_numpy()
            pf = pl.read_parquet(d / "paths.parquet").sort("sample_id", "h")
            paths = pf["y"].to_numpy().reshape(-1, point.size)
            models[sid] = SeriesModel(
                spec=spec, kind=m["kind"], method=_method_from(m["method"]), data=_data_from(m["data"]),
                history=pl.read_parquet(d / "history.parquet"), start=date.fromisoformat(m["start"]),
                point=point, paths=paths, n_eff=int(m["n_eff"]),
                specs={k: ModelSpec.from_dict(v) for k, v in m["specs"].items()},
                leaderboard=pl.read_parquet(d / "leaderboard.parquet"),
                training=pl.read_parquet(d / "training.parquet"),
                member_points=pl.read_parquet(d / "member_points.parquet"),
                notes=list(m["notes"]),
            )
        hbm = json.loads((path / "hbm.json").read_text()) if (path / "hbm.json").exists() else None
        tr = pl.read_parquet(path / "track_record.parquet") if (path / "track_record.parquet").exists() else None
        return cls(models, ForecasterMeta(**manifest["meta"]), hbm, tr)


def _spec_dict(spec: SeriesSpec) -> dict[str, Any]:
    d = asdict(spec)
    d["frequency"] = str(spec.frequency)
    d["parts"] = list(spec.parts)
    d["files"] = list(spec.files)
    return d


def _spec_from(d: dict[str, Any]) -> SeriesSpec:
    return SeriesSpec(**{**d, "files": tuple(d["files"]), "parts": tuple(d["parts"])})


def _method_dict(m: MethodInfo) -> dict[str, Any]:
    d = asdict(m)
    d["members"] = [{"name": x.name, "weight": x.weight, "params": dict(x.params)} for x in m.members]
    for k in ("backtest_first_origin", "backtest_last_origin"):
        d[k] = d[k].isoformat() if d[k] else None
    d["passed_over"] = [list(p) for p in m.passed_over]
    return d


def _method_from(d: dict[str, Any]) -> MethodInfo:
    return MethodInfo(
        name=d["name"], description=d["description"],
        members=tuple(Member(x["name"], float(x["weight"]), x["params"]) for x in d["members"]),
        scale=d["scale"], intervals=d["intervals"], backtest_origins=int(d["backtest_origins"]),
        backtest_first_origin=_date(d["backtest_first_origin"]), backtest_last_origin=_date(d["backtest_last_origin"]),
        primary_horizon=d["primary_horizon"], mase=d["mase"], baseline_mase=d["baseline_mase"],
        passed_over=tuple((a, b) for a, b in d["passed_over"]),
    )


def _data_dict(s: DataStatus) -> dict[str, Any]:
    return {"last_observation": _iso(s.last_observation), "last_published": _iso(s.last_published),
            "next_expected_release": _iso(s.next_expected_release), "as_of": _iso(s.as_of),
            "bridged_for_fitting": [x.isoformat() for x in s.bridged_for_fitting], "vintages": s.vintages,
            "source": s.source, "nowcast": [x.isoformat() for x in s.nowcast], "nowcast_indicator": s.nowcast_indicator}


def _data_from(d: dict[str, Any]) -> DataStatus:
    return DataStatus(_date(d["last_observation"]), _date(d["last_published"]), _date(d["next_expected_release"]),
                      _date(d["as_of"]), tuple(date.fromisoformat(x) for x in d["bridged_for_fitting"]),
                      d["vintages"], d["source"], tuple(date.fromisoformat(x) for x in d["nowcast"]),
                      d["nowcast_indicator"])


def _date(x: str | None) -> date | None:
    return date.fromisoformat(x) if x else None


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
