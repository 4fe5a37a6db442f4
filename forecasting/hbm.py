"""HBM revenue as a transparent structural series, and capex scenarios for memory and HBM.

There is no long public HBM revenue series, so HBM is not forecast from its own history. Instead:

    hbm_revenue(year) = hyperscaler capex(year) x accelerator_share x hbm_content

* ``accelerator_share`` = NVIDIA data-center revenue / hyperscaler capex (both real series in the panel):
  how much accelerator spend each capex dollar has carried recently. NVIDIA also sells to non-hyperscalers,
  so this is a ratio, not a true share.
* ``hbm_content`` = HBM market revenue / NVIDIA data-center revenue, calibrated only on dated *estimates* of
  years that had happened (TrendForce, Micron) in ``data/raw/memory/hbm_market_figures.csv``; forecasts by
  others are never used as data.

HBM is built as a :class:`~forecasting.artifact.SeriesModel` like any other target: each of the capex
series' sample paths is totalled per calendar year (the catalog rule) and multiplied by a draw of both
parameters, so ``hbm_revenue`` has the same forecast, outlook and interval shape as every series.

Scenarios act on the capex path. Every scenario is checked by :func:`validate` (one place; a
:class:`ScenarioError` becomes a 409 in the API and exit 2 in the CLI). Memory revenues keep their
backtested forecasts as the baseline; under a scenario the makers are scaled by
``capex_multiplier ** elasticity``, with the elasticity (YoY log growth on capex YoY log growth, OLS, >= 0)
sampled from its standard error, and the memory market, tied to its makers, moves as their US$ sum does.
Annual multipliers are spread over quarters smoothly (:func:`period_multipliers`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from forecasting.artifact import Forecaster, SeriesModel
from forecasting.reconcile import MAKERS_DRIVEN, MEMORY_MAKERS, MEMORY_MARKET, market_under
from forecasting.result import DataStatus, MethodInfo
from pipelines.catalog import Frequency, SeriesSpec, get_spec
from pipelines.features import annual_totals
from pipelines.fx import FX_SERIES
from pipelines.panel import as_of

CAPEX_DRIVER = "capex_hyperscalers_total"
ACCELERATOR = "nvidia_datacenter_revenue"
HBM_ID = "hbm_revenue"
HBM_FILE = "raw/memory/hbm_market_figures.csv"
MEMORY_TARGETS = ("micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual")
STRUCTURAL = "structural"
SEED = 20261127

HBM_SPEC = SeriesSpec(
    id=HBM_ID,
    name="HBM market revenue, calendar year (modelled)",
    unit="US$ bn",
    frequency=Frequency.ANNUAL,
    source="structural model: hyperscaler capex x accelerator share x HBM content (see /v1/models/hbm/assumptions)",
    files=(),
    publication_lag_days=0,
    annual_agg="sum",
    loader="structural",
    notes="Modelled, never published: no history, no backtest.",
)


class ScenarioError(ValueError):
    """A scenario the model cannot evaluate; the message states what is allowed."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    low: float
    high: float
    unit: str
    how: str
    sources: list[str] = field(default_factory=list)
    calibration: list[dict[str, Any]] = field(default_factory=list)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Triangular over [low, high] with mode at the central value (a point mass if low == high)."""
        if self.high <= self.low:
            return np.full(n, self.value)
        mode = min(max(self.value, self.low), self.high)
        return rng.triangular(self.low, mode, self.high, n)


@dataclass(frozen=True)
class Elasticity:
    target: str
    driver: str
    value: float  # constrained >= 0
    estimate: float  # unconstrained OLS slope
    se: float
    n: int
    periods: str

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        se = self.se if math.isfinite(self.se) else 0.0
        return np.clip(rng.normal(self.value, se, n), 0.0, None)


@dataclass
class HbmAssumptions:
    """The one description of the HBM model's parameters (stored with the model, served as JSON)."""

    accelerator_share: Parameter
    hbm_content: Parameter
    elasticities: dict[str, Elasticity]
    capex_driver: str = CAPEX_DRIVER
    formula: str = "hbm_revenue = hyperscaler capex x accelerator_share x hbm_content"
    limits: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["elasticities"] = {k: asdict(v) for k, v in self.elasticities.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HbmAssumptions:
        return cls(
            accelerator_share=Parameter(**d["accelerator_share"]),
            hbm_content=Parameter(**d["hbm_content"]),
            elasticities={k: Elasticity(**v) for k, v in d["elasticities"].items()},
            capex_driver=d["capex_driver"],
            formula=d["formula"],
            limits=list(d["limits"]),
        )


LIMITS = [
    "No public HBM revenue series exists; the model is calibrated on three dated market-size estimates "
    "(2024: TrendForce 18.2, Micron ~16; 2025: Micron ~35, US$ bn).",
    "HBM content per accelerator dollar is held within its calibrated range; a jump in HBM per GPU beyond "
    "2025's ratio is not modelled unless you override hbm_content.",
    "NVIDIA data-center revenue stands in for all AI accelerator spend (AMD, custom ASICs are not in the data).",
    "Capex is cash paid for property and equipment of five US hyperscalers; it excludes finance leases, "
    "other clouds and sovereign programmes (e.g. Korea's), which also buy accelerators.",
    "Memory elasticities are contemporaneous YoY co-movements, not causal estimates.",
]


# ------------------------------------------------------------------------------------------ calibration


def _annual(panel: pl.DataFrame, sid: str) -> dict[int, float]:
    t = annual_totals(panel.filter(pl.col("unique_id") == sid).select("ds", "y"), get_spec(sid))
    return dict(zip(t["year"].to_list(), t["y"].to_list(), strict=True))


def hbm_estimates(data_dir: Path, as_of: date | None = None) -> pl.DataFrame:
    """Dated HBM market-size *estimates* (not forecasts) in US$ bn, one row per statement.

    With ``as_of``, only statements public by then. A statement without a date counts as public only from
    the end of the year after the year it estimates (conservative: it cannot have been made before that
    year was over, and is assumed not to have been public sooner than a year later).
    """
    rows = (
        pl.scan_csv(data_dir / HBM_FILE, infer_schema=False)
        .filter(pl.col("metric").is_in(["hbm_market_revenue", "hbm_tam"]) & (pl.col("kind") == "estimate"))
        .select(
            pl.col("fiscal_period").cast(pl.Int32).alias("year"),
            pl.col("value").cast(pl.Float64),
            "entity",
            "date",
            "source",
        )
        .with_columns(pl.coalesce(pl.col("date").str.to_date("%Y-%m-%d", strict=False),
                                  pl.date(pl.col("year") + 1, 12, 31)).alias("public_from"))
    )
    if as_of is not None:
        rows = rows.filter(pl.col("public_from") <= as_of)
    return rows.drop("public_from").sort("year", "entity").collect()


def _ratio_parameter(name: str, unit: str, how: str, points: list[dict[str, Any]]) -> Parameter:
    vals = [p["ratio"] for p in points]
    return Parameter(name=name, value=float(np.mean(vals)), low=float(min(vals)), high=float(max(vals)), unit=unit,
                     how=how, sources=sorted({str(p["source"]) for p in points}), calibration=points)


def yoy_elasticity(panel: pl.DataFrame, target: str, driver: str) -> Elasticity:
    """OLS slope of the target's YoY log growth on the driver's, over their common periods."""
    spec = get_spec(target)

    def yoy(sid: str) -> pl.DataFrame:
        if spec.frequency == "annual" and get_spec(sid).frequency != "annual":
            t = annual_totals(panel.filter(pl.col("unique_id") == sid).select("ds", "y"), get_spec(sid))
            s = t.select(pl.date(pl.col("year"), 1, 1).alias("ds"), "y")
        else:
            s = panel.filter(pl.col("unique_id") == sid).select("ds", "y")
        prev = s.select(pl.col("ds").dt.offset_by("1y"), pl.col("y").alias("y_prev"))
        return s.join(prev, on="ds").select("ds", (pl.col("y") / pl.col("y_prev")).log().alias(sid))

    j = yoy(target).join(yoy(driver), on="ds").drop_nulls().sort("ds")
    n = j.height
    if n < 5:
        return Elasticity(target, driver, 0.0, float("nan"), float("nan"), n, "")
    x, y = j[driver].to_numpy(), j[target].to_numpy()
    X = np.column_stack([np.ones(n), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    se = math.sqrt(float(resid @ resid) / (n - 2) * float(np.linalg.inv(X.T @ X)[1, 1]))
    return Elasticity(target, driver, max(0.0, float(beta[1])), float(beta[1]), se, n,
                      f"{j['ds'].min()!s}..{j['ds'].max()!s}")


def calibrate(panel: pl.DataFrame, data_dir: Path, as_of: date | None = None) -> HbmAssumptions:
    """Parameters from the (as-of) panel and the HBM estimates public by ``as_of``; each keeps its points."""
    capex = _annual(panel, CAPEX_DRIVER)
    accel = _annual(panel, ACCELERATOR)
    common = set(capex) & set(accel)
    if not common:
        raise ScenarioError("not enough published data to calibrate the HBM model")
    share_points = [
        {"year": y, "ratio": accel[y] / capex[y], "nvidia_dc_usd_m": accel[y], "capex_usd_m": capex[y],
         "source": "panel: nvidia_datacenter_revenue / capex_hyperscalers_total"}
        for y in sorted(common) if y >= max(common) - 1
    ]
    est = hbm_estimates(data_dir, as_of)
    content_points = [
        {"year": int(r["year"]), "ratio": r["value"] * 1000.0 / accel[int(r["year"])], "hbm_usd_bn": r["value"],
         "estimate_by": r["entity"], "stated": r["date"], "source": r["source"]}
        for r in est.iter_rows(named=True) if int(r["year"]) in accel
    ]
    if not content_points:
        raise ScenarioError("no dated HBM market estimate overlaps the published NVIDIA data")
    return HbmAssumptions(
        accelerator_share=_ratio_parameter(
            "accelerator_share", "NVIDIA DC revenue per US$ of hyperscaler capex",
            "range of the last two complete calendar years", share_points),
        hbm_content=_ratio_parameter(
            "hbm_content", "HBM revenue per US$ of NVIDIA DC revenue",
            "dated HBM market-size estimates / NVIDIA DC revenue of the same calendar year", content_points),
        elasticities={t: yoy_elasticity(panel, t, CAPEX_DRIVER) for t in MEMORY_TARGETS},
        limits=list(LIMITS),
    )


# ------------------------------------------------------------------------------------------ capex per year


#: (complete calendar years, point totals, sample totals n x years): what ``annual_paths`` returns
AnnualPaths = tuple[list[int], np.ndarray, np.ndarray]


def annual_paths(sm: SeriesModel) -> AnnualPaths:
    """(complete calendar years, point totals, sample totals n x years) of a series' forecast years.

    Published periods of a partly published year are added to every path (the catalog's annual rule).
    """
    years = sorted({d.year for d in sm.dates()})
    out = sm.outlook(years=len(years))
    got = [y.year for y in out]
    if not got:
        return [], np.empty(0), np.empty((sm.paths.shape[0], 0))
    samples = sm.annual_samples()
    return got, np.array([y.value for y in out]), np.column_stack([samples[y] for y in got])


#: said by an HBM forecast that rides the capex total's own model: trained without all five companies (a
#: library call of ``train`` on a subset; ``chipcast train`` always trains the whole capex group)
UNRECONCILED_CAPEX = (f"rides {CAPEX_DRIVER}'s own model, not the reconciled sum of the five companies: they were "
                      "not all trained with it")


def hbm_series(fc: Forecaster, assumptions: HbmAssumptions, multipliers: dict[int, float] | None = None,
               hbm_content: float | None = None, seed: int = SEED,
               capex_years: AnnualPaths | None = None) -> SeriesModel:
    """HBM revenue per calendar year as a series model: capex totals x sampled share x sampled content.

    ``capex_years``: the capex forecast's ``annual_paths`` if the caller has them (a scenario reads them
    several times; each read costs tens of milliseconds).
    """
    capex = fc.series(CAPEX_DRIVER)
    years, capex_point, totals = capex_years if capex_years is not None else annual_paths(capex)
    if not years:
        raise ScenarioError(f"the {CAPEX_DRIVER} forecast completes no calendar year")
    if multipliers:
        mult = np.array([multipliers.get(y, 1.0) for y in years])
        totals, capex_point = totals * mult[None, :], capex_point * mult
    n = totals.shape[0]
    rng = np.random.default_rng(seed)
    share = assumptions.accelerator_share.sample(rng, n)
    content = np.full(n, hbm_content) if hbm_content is not None else assumptions.hbm_content.sample(rng, n)
    paths = totals * (share * content)[:, None] / 1000.0
    # the point rides the capex point (the sum of the companies' points) at the parameters' central values
    central_content = hbm_content if hbm_content is not None else assumptions.hbm_content.value
    point = capex_point * assumptions.accelerator_share.value * central_content / 1000.0
    method = MethodInfo(
        name=STRUCTURAL, description=assumptions.formula, scale="level",
        intervals=(f"percentiles of {n} draws: the capex forecast's sample paths x triangular draws of "
                   "accelerator_share and hbm_content over their calibration ranges"),
    )
    data = DataStatus(capex.data.last_observation, capex.data.last_published, capex.data.next_expected_release,
                      capex.data.as_of, (), "latest", HBM_SPEC.source)
    return SeriesModel(spec=HBM_SPEC, kind="structural", method=method, data=data,
                       history=pl.DataFrame(schema={"ds": pl.Date, "y": pl.Float64}), start=date(years[0], 1, 1),
                       point=point, paths=paths, n_eff=capex.n_eff,
                       notes=["HBM revenue is modelled, never published: see /v1/models/hbm/assumptions",
                              *([] if capex.kind == "reconciled" else [UNRECONCILED_CAPEX])])


def attach_hbm(fc: Forecaster, panel: pl.DataFrame, data_dir: Path, as_of: date | None = None) -> str | None:
    """Calibrate HBM on what was public by ``as_of`` and add ``hbm_revenue``; returns why not, if it cannot."""
    if CAPEX_DRIVER not in fc.models or ACCELERATOR not in panel["unique_id"].unique().to_list():
        return f"the HBM model needs {CAPEX_DRIVER} among the trained targets"
    try:
        assumptions = calibrate(panel, data_dir, as_of)
        fc.models[HBM_ID] = hbm_series(fc, assumptions)
    except ScenarioError as exc:
        return str(exc)
    fc.hbm = assumptions.to_dict()
    return None


def assumptions_of(fc: Forecaster) -> HbmAssumptions:
    if fc.hbm is None:
        raise ScenarioError("this model has no HBM calibration (train it with capex_hyperscalers_total)")
    return HbmAssumptions.from_dict(fc.hbm)


# ------------------------------------------------------------------------------------------ scenarios

ScenarioMode = Literal["relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"]
MODES: tuple[str, ...] = ("relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m")
#: inclusive bounds per mode (absolute paths: as a multiple of the baseline year); stated in every 422
BOUNDS: dict[str, tuple[float, float]] = {
    "relative_to_baseline_pct": (-75.0, 200.0),
    "yoy_growth_pct": (-50.0, 150.0),
    "absolute_usd_m": (0.25, 4.0),
}
HBM_CONTENT_BOUNDS: tuple[float, float] = (0.02, 0.5)

#: named capex scenarios, as percentages off the baseline in the capex forecast's first, second and third
#: calendar years (2026-2028 while 2026 is partly published; they move on as years are published, so a
#: named scenario never names a year the forecast no longer has)
NAMED_SCENARIOS: dict[str, dict[str, Any]] = {
    "bear": {"mode": "relative_to_baseline_pct", "steps": (-15.0, -30.0, -40.0),
             "summary": "AI capex undershoots the baseline forecast"},
    "base": {"mode": "relative_to_baseline_pct", "steps": (),
             "summary": "the capex forecast itself (the unconditional baseline)"},
    "bull": {"mode": "relative_to_baseline_pct", "steps": (15.0, 30.0, 40.0),
             "summary": "AI capex overshoots the baseline forecast"},
}


@dataclass
class ScenarioSpec:
    name: str = "custom"
    mode: ScenarioMode = "relative_to_baseline_pct"
    values: dict[int, float] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    hbm_content: float | None = None
    description: str = ""
    sources: list[str] = field(default_factory=list)
    #: the guidance scenario: every dated statement considered (used or not, and why), and per company and
    #: year whether its guidance or its baseline was used (see forecasting.scenarios.guidance_spec)
    statements: list[dict[str, Any]] = field(default_factory=list)
    companies: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def named(cls, name: str, targets: list[str] | None, years: Sequence[int]) -> ScenarioSpec:
        """A named scenario on ``years``, the capex forecast's calendar years (``capex_annual(fc)[0]``)."""
        if name not in NAMED_SCENARIOS:
            raise ScenarioError(f"unknown scenario '{name}'; named scenarios: {', '.join(NAMED_SCENARIOS)}")
        d = NAMED_SCENARIOS[name]
        values = {int(y): float(v) for y, v in zip(years, d["steps"], strict=False)}
        description = d["summary"] + (": " + ", ".join(f"{v:+g}% in {y}" for y, v in values.items()) if values else "")
        return cls(name=name, mode=d["mode"], values=values, targets=list(targets or []), description=description)


class MissingPanelError(RuntimeError):
    """The memory market's scenario needs exchange rates from the data panel and there is none: a server-side
    condition (503 in the API), not a request the caller can fix."""


def scenario_targets(fc: Forecaster) -> list[str]:
    """Targets a scenario can condition with this model: its memory targets, then HBM."""
    return [t for t in MEMORY_TARGETS if t in fc.models] + ([HBM_ID] if HBM_ID in fc.models else [])


def capex_annual(fc: Forecaster) -> AnnualPaths:
    """The capex forecast's calendar years (``annual_paths``); a clear error if the model cannot run scenarios."""
    if fc.hbm is None or CAPEX_DRIVER not in fc.models:
        raise ScenarioError(f"this model cannot run capex scenarios: it was trained without {CAPEX_DRIVER}")
    return annual_paths(fc.series(CAPEX_DRIVER))


def validate(fc: Forecaster, spec: ScenarioSpec, capex_years: AnnualPaths | None = None) -> ScenarioSpec:
    """The one scenario check: mode, targets, years and bounds. Returns the spec with targets resolved.

    ``capex_years``: ``capex_annual(fc)`` if the caller already has it.
    """
    capex_years = capex_years if capex_years is not None else capex_annual(fc)
    if spec.mode not in MODES:
        raise ScenarioError(f"unknown mode '{spec.mode}'; modes: {', '.join(MODES)}")
    allowed = scenario_targets(fc)
    targets = list(dict.fromkeys(spec.targets)) or allowed
    unknown = [t for t in targets if t not in allowed]
    if unknown:
        raise ScenarioError(f"no capex-conditional model for {', '.join(t[:64] for t in unknown)}; "
                            f"scenario targets: {', '.join(allowed)}")
    years = capex_years[0]
    bad_years = sorted(y for y in spec.values if y not in years)
    if bad_years:
        raise ScenarioError(f"scenario years {bad_years} are outside the forecast years {years}")
    lo, hi = BOUNDS[spec.mode]
    floor = published_capex(fc)
    out = [f"{y}={v:g}" for y, v in spec.values.items() if not (math.isfinite(v) and lo <= v <= hi)]
    if spec.mode == "absolute_usd_m":
        base = dict(zip(years, capex_years[1], strict=True))
        out = [f"{y}={v:g} (allowed {max(lo * base[y], floor.get(y, 0.0)):,.0f}..{hi * base[y]:,.0f})"
               for y, v in spec.values.items() if not (math.isfinite(v) and lo * base[y] <= v <= hi * base[y])]
        if out:
            raise ScenarioError(f"absolute capex values (US$ m) must lie between {lo}x and {hi}x the baseline "
                                f"year; out of bounds: {', '.join(out)}")
    elif out:
        raise ScenarioError(f"{spec.mode} values must lie between {lo:g} and {hi:g}; out of bounds: {', '.join(out)}")
    _check_published_floor(fc, spec, capex_years, floor)
    if spec.hbm_content is not None:
        clo, chi = HBM_CONTENT_BOUNDS
        if not (math.isfinite(spec.hbm_content) and clo <= spec.hbm_content <= chi):
            raise ScenarioError(f"hbm_content must lie between {clo} and {chi} (HBM revenue per US$ of NVIDIA "
                                f"data-center revenue; calibrated range "
                                f"{assumptions_of(fc).hbm_content.low:.3f}..{assumptions_of(fc).hbm_content.high:.3f})")
    return replace(spec, targets=targets)


def published_capex(fc: Forecaster) -> dict[int, float]:
    """Per calendar year the capex forecast has, what that year's published quarters already add up to."""
    capex = fc.series(CAPEX_DRIVER)
    years = {d.year for d in capex.dates()}
    part = (capex.history.drop_nulls("y").filter(pl.col("ds").dt.year().is_in(sorted(years)))
            .group_by(pl.col("ds").dt.year().alias("year")).agg(pl.col("y").sum()))
    return {int(y): float(v) for y, v in part.iter_rows()}


def _check_published_floor(fc: Forecaster, spec: ScenarioSpec, capex_years: AnnualPaths,
                           floor: dict[int, float]) -> None:
    """A scenario cannot take back capex already spent: a year's scenario total is at least what its
    published quarters add up to (``floor``, :func:`published_capex`; 2026 at -75% asked for less than the
    first half had already reported)."""
    path = capex_path(fc, spec, capex_years)
    below = [f"{y}: {path.scenario[y]:,.0f} < {floor[y]:,.0f} published"
             for y in path.years if y in floor and path.scenario[y] < floor[y]]
    if below:
        raise ScenarioError("scenario capex (US$ m) below what the year's published quarters already add up to "
                            f"({'; '.join(below)}); a partly published year's scenario total must be at least that")


@dataclass
class CapexPath:
    years: list[int]
    baseline: dict[int, float]
    scenario: dict[int, float]

    def multiplier(self, year: int) -> float:
        return self.scenario[year] / self.baseline[year] if year in self.baseline else 1.0


def capex_path(fc: Forecaster, spec: ScenarioSpec, capex_years: AnnualPaths | None = None) -> CapexPath:
    """Annual baseline (the capex forecast) and the scenario's annual capex."""
    capex = fc.series(CAPEX_DRIVER)
    years, point, _ = capex_years if capex_years is not None else annual_paths(capex)
    baseline = dict(zip(years, map(float, point), strict=True))
    published = annual_totals(capex.history, capex.spec)
    prev = float(published["y"][-1]) if published.height and int(published["year"][-1]) == years[0] - 1 else None
    scenario = dict(baseline)
    for y in years:
        if y in spec.values:
            v = float(spec.values[y])
            if spec.mode == "relative_to_baseline_pct":
                scenario[y] = baseline[y] * (1 + v / 100)
            elif spec.mode == "absolute_usd_m":
                scenario[y] = v
            else:
                base_prev = prev if prev is not None else baseline[y] / (1 + v / 100)
                scenario[y] = base_prev * (1 + v / 100)
        elif spec.mode == "yoy_growth_pct" and any(k < y for k in spec.values) and y - 1 in scenario:
            # after the last stated year the baseline's own growth continues from the scenario level
            scenario[y] = scenario[y - 1] * baseline[y] / baseline[y - 1]
        prev = scenario[y]
    return CapexPath(years, baseline, scenario)


def period_multipliers(dates: list[date], annual: dict[int, float], weights: np.ndarray | None = None,
                       power: float = 1.0) -> np.ndarray:
    """Per-period multipliers from annual ones, smooth across year ends.

    Log multipliers are interpolated linearly between mid-years (flat before the first and after the last
    scenario year), then each year's periods are rescaled so the year's total moves by exactly its multiplier:
    with ``weights`` (the baseline's period values) and ``power`` (the elasticity the multipliers are raised
    to), sum(w * m ** power) = annual ** power * sum(w) within each year. Without weights every period counts
    alike (the plain mean). Weighting matters when a year's values grow: a year left at the baseline (1.0)
    between two cut years once came out 7% above its baseline (Micron 2028), the rising tilt falling on its
    larger later quarters.
    """
    if not dates:
        return np.empty(0)
    years = sorted(annual)
    if not years:
        return np.ones(len(dates))
    t = np.array([d.year + (d.month - 0.5) / 12 for d in dates])
    mids = np.array([y + 0.5 for y in years])
    logm = np.interp(t, mids, np.log([annual[y] for y in years]))
    m = np.exp(logm)
    w = np.ones(len(dates)) if weights is None else np.asarray(weights, dtype=float)
    p = power if abs(power) > 1e-9 else 1.0  # a zero elasticity ignores the multiplier: any scaling will do
    out = m.copy()
    for y in years:
        idx = [i for i, d in enumerate(dates) if d.year == y]
        if idx:
            out[idx] = m[idx] * annual[y] * (w[idx].sum() / (w[idx] * m[idx] ** p).sum()) ** (1 / p)
    return out


def scenario_series(fc: Forecaster, target: str, path: CapexPath, spec: ScenarioSpec,
                    seed: int = SEED, capex_years: AnnualPaths | None = None,
                    panel: pl.DataFrame | None = None) -> SeriesModel:
    """The target's series model under the scenario (a copy; the stored baseline is never touched).

    ``panel`` (the data panel; its exchange rates as of the market's training date are used) is needed for the memory
    market once it is tied to its makers: it then moves as Micron + SK hynix in US$ do under the scenario.
    """
    assumptions = assumptions_of(fc)
    annual = {y: path.multiplier(y) for y in path.years}
    if target == HBM_ID:
        return hbm_series(fc, assumptions, annual, spec.hbm_content, seed, capex_years)
    base = fc.series(target)
    if target == MEMORY_MARKET and base.method.name == MAKERS_DRIVEN:
        if panel is None:
            raise MissingPanelError(f"{target} follows its makers under a scenario, which needs the data panel "
                                    "(their exchange rates) and none is loaded")
        makers = [fc.series(m) for m in MEMORY_MAKERS]
        moved = [scenario_series(fc, m, path, spec, seed) for m in MEMORY_MAKERS]
        # the rates as known when the market was trained (a partial retrain may have carried it from an older run)
        when = base.data.as_of or date.fromisoformat(fc.meta.as_of)
        fx = as_of(panel.filter(pl.col("unique_id").is_in(list(FX_SERIES.values()))), when)
        out = market_under(base, makers, moved, fx)
        out.method = replace(base.method, name=f"{base.method.name} under the scenario",
                             description=(f"{base.method.description}; under the scenario it moves as its makers' "
                                          "US$ revenue does (each scaled by capex_multiplier^elasticity), path by "
                                          "path"))
        return out
    el = assumptions.elasticities[target]
    mult = period_multipliers(base.dates(), annual, weights=base.point, power=el.value)
    rng = np.random.default_rng(seed + 2)
    beta = el.sample(rng, base.paths.shape[0])
    out = copy.copy(base)
    out.paths = base.paths * np.power(mult[None, :], beta[:, None])
    out.point = base.point * np.power(mult, el.value)
    out.method = replace(base.method, name=f"{base.method.name} x capex_multiplier^elasticity",
                         description=(f"{base.method.description}; under the scenario scaled by "
                                      f"(capex scenario / baseline) ** {el.value:.2f} (se {el.se:.2f})"))
    return out
