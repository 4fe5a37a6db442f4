"""The track record: what chipcast would have said at fixed dates, and what then happened.

At every 1 June and 1 December the data allows, the served method is run exactly as it would have run
that day: the target's history *as it was known then* (true vintages where the data has them, so later
revisions are invisible), member weights and error paths from earlier origins only. Its calendar-year
outlook gives the current- and next-year growth with intervals. Each is then set beside the actual
growth as first announced (the year's figures as known when its last needed period was first published)
and as known today, with the error in percentage points and whether the intervals held it.

These origins are extra origins of the same evaluation run (one stacked fit on the training engine), so
the track record costs a few more fits per series, not a second pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from forecasting.artifact import SeriesModel
from forecasting.evaluation import Evaluation
from forecasting.result import DataStatus, MethodInfo
from forecasting.targets import LEVELS
from forecasting.zoo import COMBINATION
from pipelines.features import annual_totals
from pipelines.panel import as_of

#: plain references whose track record is stored beside the method's (AutoETS on logs, the naive pair)
REFERENCE_MODELS: tuple[str, ...] = ("PlainETS", "AutoETS", "Naive", "SeasonalNaive")
#: the fixed days of the year the track record is computed at
TRACK_DAYS: tuple[tuple[int, int], ...] = ((6, 1), (12, 1))

SCHEMA: dict[str, pl.DataType] = {
    "series_id": pl.String(), "model": pl.String(), "origin": pl.Date(), "last_observation": pl.Date(),
    "year": pl.Int64(), "horizon": pl.String(), "forecast_growth_pct": pl.Float64(),
    "growth_lo_80": pl.Float64(), "growth_hi_80": pl.Float64(), "growth_lo_95": pl.Float64(),
    "growth_hi_95": pl.Float64(), "forecast_value": pl.Float64(), "actual_growth_first_pct": pl.Float64(),
    "actual_growth_latest_pct": pl.Float64(), "actual_first_published": pl.Date(), "error_pp": pl.Float64(),
    "hit_80": pl.Boolean(), "hit_95": pl.Boolean(),
}


def track_dates(first: date, last: date) -> list[date]:
    """Every 1 June and 1 December from ``first`` to ``last`` (inclusive)."""
    out = []
    for year in range(first.year, last.year + 1):
        for month, day in TRACK_DAYS:
            d = date(year, month, day)
            if first <= d <= last:
                out.append(d)
    return out


def model_at(ev: Evaluation, origin_id: int, model: str = COMBINATION) -> SeriesModel:
    """The predictive distribution of ``model`` at one origin, as a series model (no leaderboard)."""
    ts = ev.training[origin_id]
    point, paths, n_eff, how = ev.sample_paths(origin_id, model)
    spec = ev.cfg.spec
    when = ev.origin_row(origin_id)["origin"]
    assert isinstance(when, date)
    return SeriesModel(
        spec=spec, kind="fitted", method=MethodInfo(name=model, description="", intervals=how),
        data=DataStatus(ts.cutoff, None, None, when, ts.bridged), history=ts.observed().select("ds", "y"),
        start=spec.frequency.offset(ts.cutoff, 1), point=point, paths=paths, n_eff=n_eff,
    )


def growth_by_year(known: pl.DataFrame, spec: object) -> dict[int, float]:
    """Calendar-year growth in % (the catalog's annual rule) for every year whose previous year is complete."""
    tot = annual_totals(known.select("ds", "y"), spec)  # type: ignore[arg-type]
    values = dict(zip(tot["year"].to_list(), tot["y"].to_list(), strict=True))
    return {y: 100 * (v / values[y - 1] - 1) for y, v in values.items() if y - 1 in values and values[y - 1]}


def actual_growth(ev: Evaluation) -> pl.DataFrame:
    """``year, first_pct, first_published, latest_pct``: growth as first announced and as known now."""
    spec = ev.cfg.spec
    latest = growth_by_year(ev.latest(), spec)
    prints = ev.prints
    rows = []
    for year in sorted(latest):
        months = spec.annual_period_months
        needed = [date(year, m, 1) for m in months]
        firsts = prints.filter(pl.col("ds").is_in(needed)).group_by("ds").agg(pl.col("published").min())
        if firsts.height < len(needed):
            continue
        announced = firsts["published"].max()
        assert isinstance(announced, date)
        first = growth_by_year(as_of(prints.with_columns(pl.lit(spec.id).alias("unique_id")), announced), spec)
        rows.append({"year": year, "first_pct": first.get(year), "first_published": announced,
                     "latest_pct": latest[year]})
    return pl.DataFrame(rows, schema={"year": pl.Int64, "first_pct": pl.Float64, "first_published": pl.Date,
                                      "latest_pct": pl.Float64})


def track_record(ev: Evaluation, origins: Sequence[date] | None = None,
                 models: Sequence[str] = (COMBINATION,)) -> pl.DataFrame:
    """Current- and next-year growth said at each track-record origin, beside what happened."""
    extra = ev.origins.filter(pl.col("kind") == "extra")
    if origins is not None:
        extra = extra.filter(pl.col("origin").is_in(list(origins)))
    actual = {r["year"]: r for r in actual_growth(ev).iter_rows(named=True)}
    # "AutoETS on logs" is PlainETS where the target has a nowcast (AutoETS then continues from it)
    models = [m for m in models if m == COMBINATION or m in ev.specs]
    if "PlainETS" in models and "AutoETS" in models:
        models.remove("AutoETS")
    rows = []
    for r in extra.sort("origin").iter_rows(named=True):
        oid, when = int(r["origin_id"]), r["origin"]
        for model in models:
            sm = model_at(ev, oid, model)
            outlook = {y.year: y for y in sm.outlook(LEVELS, years=3)}
            for year, label in ((when.year, "current"), (when.year + 1, "next")):
                y = outlook.get(year)
                if y is None or y.growth_pct is None:
                    continue
                g = {i.level: i for i in y.growth_intervals}
                act = actual.get(year)
                latest = act["latest_pct"] if act else None
                row = {
                    "series_id": ev.series_id, "model": model, "origin": when, "last_observation": r["cutoff"],
                    "year": year, "horizon": label, "forecast_growth_pct": y.growth_pct,
                    "growth_lo_80": g[80].lo, "growth_hi_80": g[80].hi, "growth_lo_95": g[95].lo,
                    "growth_hi_95": g[95].hi, "forecast_value": y.value,
                    "actual_growth_first_pct": act["first_pct"] if act else None,
                    "actual_growth_latest_pct": latest,
                    "actual_first_published": act["first_published"] if act else None,
                    "error_pp": None if latest is None else y.growth_pct - latest,
                    "hit_80": None if latest is None else bool(g[80].lo <= latest <= g[80].hi),  # type: ignore[operator]
                    "hit_95": None if latest is None else bool(g[95].lo <= latest <= g[95].hi),  # type: ignore[operator]
                }
                rows.append(row)
    return pl.DataFrame(rows, schema=SCHEMA)


#: the headline questions: next-year growth asked each 1 December, current-year growth asked each 1 June
QUESTIONS: dict[str, tuple[str, int]] = {"next-year growth, asked 1 December": ("next", 12),
                                         "current-year growth, asked 1 June": ("current", 6)}


def summary(record: pl.DataFrame, years: dict[str, tuple[int, int]] | None = None) -> pl.DataFrame:
    """Per question and model: origins scored, MAE and bias in pp, interval hit rates, first and last year.

    ``years`` limits a question (a key of ``QUESTIONS``) to target years ``first..last``; by default every
    scored year counts.
    """
    scored = record.filter(pl.col("error_pp").is_not_null())
    frames = []
    for question, (horizon, month) in QUESTIONS.items():
        part = scored.filter(pl.col("horizon") == horizon, pl.col("origin").dt.month() == month)
        if years and question in years:
            part = part.filter(pl.col("year").is_between(*years[question]))
        frames.append(
            part.group_by("model")
            .agg(pl.len().alias("origins"), pl.col("year").min().alias("first_year"),
                 pl.col("year").max().alias("last_year"), pl.col("error_pp").abs().mean().alias("mae_pp"),
                 pl.col("error_pp").mean().alias("bias_pp"), pl.col("hit_80").mean().alias("hit_80"),
                 pl.col("hit_95").mean().alias("hit_95"))
            .with_columns(pl.lit(question).alias("question"))
        )
    out = pl.concat(frames) if frames else pl.DataFrame()
    return out.select("question", "model", "origins", "first_year", "last_year", "mae_pp", "bias_pp", "hit_80",
                      "hit_95").sort("question", "mae_pp")
