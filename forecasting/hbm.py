"""HBM revenue as a transparent structural model, and capex scenarios for memory and HBM.

There is no long public HBM revenue series, so HBM is not forecast from its own history. Instead:

    hbm_revenue(year) = hyperscaler capex(year) x accelerator_share x hbm_content

* ``accelerator_share`` = NVIDIA data-center revenue / hyperscaler capex (both real series in the panel):
  how much accelerator spend each capex dollar has carried recently. NVIDIA also sells to non-hyperscalers,
  so this is a ratio, not a true share.
* ``hbm_content`` = HBM market revenue / NVIDIA data-center revenue, calibrated only on dated *estimates* of
  years that had happened (TrendForce, Micron) in ``data/raw/memory/hbm_market_figures.csv``; forecasts by
  others are never used as data.

Both parameters carry a range (the spread of their calibration points); Monte Carlo draws them together
with the capex forecast's own paths, so intervals include driver and parameter uncertainty. HBM is
proportional to capex by construction, so more capex can never mean less HBM.

Memory revenues keep their backtested champion forecasts as the unconditional baseline. Under a capex
scenario they are scaled by ``(capex_scenario / capex_baseline) ** elasticity``, with the elasticity
estimated from YoY log growth against capex (OLS, standard error reported) and constrained to be >= 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from forecasting.forecaster import N_PATHS, SEED, Forecaster, outlook, simulate_paths
from pipelines.catalog import get_spec
from pipelines.features import calendar_year_totals

CAPEX_DRIVER = "capex_hyperscalers_total"
ACCELERATOR = "nvidia_datacenter_revenue"
HBM_FILE = "raw/memory/hbm_market_figures.csv"
OUTLOOK_END_YEAR = 2028
MEMORY_TARGETS = ("micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual")


class ScenarioError(ValueError):
    """A scenario the model cannot evaluate (unknown target, missing driver forecast, bad path)."""


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
        return np.clip(rng.normal(self.value, self.se, n), 0.0, None)


@dataclass
class HbmAssumptions:
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


def _annual(panel: pl.DataFrame, sid: str) -> dict[int, float]:
    t = calendar_year_totals(panel, sid)
    return dict(zip(t["year"].to_list(), t["y"].to_list(), strict=True))


def hbm_estimates(data_dir: Path) -> pl.DataFrame:
    """Dated HBM market-size *estimates* (not forecasts) in US$ bn, one row per statement."""
    return (
        pl.scan_csv(data_dir / HBM_FILE, infer_schema=False)
        .filter(pl.col("metric").is_in(["hbm_market_revenue", "hbm_tam"]) & (pl.col("kind") == "estimate"))
        .select(
            pl.col("fiscal_period").cast(pl.Int32).alias("year"),
            pl.col("value").cast(pl.Float64),
            "entity",
            "date",
            "source",
        )
        .sort("year", "entity")
        .collect()
    )


def _ratio_parameter(name: str, unit: str, how: str, points: list[dict[str, Any]]) -> Parameter:
    vals = [p["ratio"] for p in points]
    return Parameter(
        name=name,
        value=float(np.mean(vals)),
        low=float(min(vals)),
        high=float(max(vals)),
        unit=unit,
        how=how,
        sources=sorted({str(p["source"]) for p in points}),
        calibration=points,
    )


def yoy_elasticity(panel: pl.DataFrame, target: str, driver: str) -> Elasticity:
    """OLS slope of the target's YoY log growth on the driver's, over their common periods."""
    spec = get_spec(target)

    def yoy(sid: str) -> pl.DataFrame:
        if spec.frequency == "annual" and get_spec(sid).frequency != "annual":
            t = calendar_year_totals(panel, sid)
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
    first, last = j["ds"].min(), j["ds"].max()
    periods = f"{first!s}..{last!s}"
    return Elasticity(target, driver, max(0.0, float(beta[1])), float(beta[1]), se, n, periods)


def calibrate(panel: pl.DataFrame, data_dir: Path) -> HbmAssumptions:
    """Parameters from the panel and the dated HBM estimates; each keeps its calibration points."""
    capex = _annual(panel, CAPEX_DRIVER)
    accel = _annual(panel, ACCELERATOR)
    share_points = [
        {"year": y, "ratio": accel[y] / capex[y], "nvidia_dc_usd_m": accel[y], "capex_usd_m": capex[y],
         "source": "panel: nvidia_datacenter_revenue / capex_hyperscalers_total"}
        for y in sorted(set(capex) & set(accel))
        if y >= max(set(capex) & set(accel)) - 1
    ]
    est = hbm_estimates(data_dir)
    content_points = [
        {"year": int(r["year"]), "ratio": r["value"] * 1000.0 / accel[int(r["year"])], "hbm_usd_bn": r["value"],
         "estimate_by": r["entity"], "stated": r["date"], "source": r["source"]}
        for r in est.iter_rows(named=True)
        if int(r["year"]) in accel
    ]
    if not share_points or not content_points:
        raise ScenarioError("not enough published data to calibrate the HBM model")
    elasticities = {t: yoy_elasticity(panel, t, CAPEX_DRIVER) for t in MEMORY_TARGETS}
    return HbmAssumptions(
        accelerator_share=_ratio_parameter(
            "accelerator_share", "NVIDIA DC revenue per US$ of hyperscaler capex",
            "range of the last two complete calendar years", share_points),
        hbm_content=_ratio_parameter(
            "hbm_content", "HBM revenue per US$ of NVIDIA DC revenue",
            "dated HBM market-size estimates / NVIDIA DC revenue of the same calendar year", content_points),
        elasticities=elasticities,
        limits=list(LIMITS),
    )


# ------------------------------------------------------------------------------------------ scenarios


ScenarioMode = Literal["relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"]

NAMED_SCENARIOS: dict[str, dict[str, Any]] = {
    "bear": {"mode": "relative_to_baseline_pct", "values": {"2026": -15, "2027": -30, "2028": -40},
             "description": "AI capex undershoots the baseline forecast: -15% in 2026, -30% in 2027, -40% in 2028"},
    "base": {"mode": "relative_to_baseline_pct", "values": {},
             "description": "the capex champion forecast (unconditional baseline)"},
    "bull": {"mode": "relative_to_baseline_pct", "values": {"2026": 15, "2027": 30, "2028": 40},
             "description": "AI capex overshoots the baseline forecast: +15% in 2026, +30% in 2027, +40% in 2028"},
}


@dataclass
class CapexPath:
    """Annual capex under the baseline and the scenario, and their ratio per year."""

    baseline: dict[int, float]
    scenario: dict[int, float]
    published: dict[int, float]

    def multiplier(self, year: int) -> float:
        if year not in self.baseline:
            return 1.0
        return self.scenario[year] / self.baseline[year]


def horizon_through(fc: Forecaster, series_id: str, year: int) -> int:
    """Periods from the series' last observation to the end of ``year`` (quarterly series)."""
    last = fc.series(series_id).training.df["ds"].max()
    assert isinstance(last, date)
    return (year - last.year) * 4 + (12 - last.month) // 3


def _capex_baseline(fc: Forecaster, years: list[int]) -> dict[int, float]:
    out = outlook(fc.series(CAPEX_DRIVER), horizon_through(fc, CAPEX_DRIVER, OUTLOOK_END_YEAR))
    got = dict(zip(out["year"].to_list(), out["value"].to_list(), strict=True))
    return {y: float(got[y]) for y in years if y in got}


def _year_index(dates: list[date]) -> np.ndarray:
    return np.array([d.year for d in dates])


def hbm_paths(fc: Forecaster, assumptions: HbmAssumptions, path: CapexPath | None = None,
              n: int = N_PATHS, seed: int = SEED, hbm_content: float | None = None) -> dict[int, np.ndarray]:
    """Monte Carlo HBM revenue (US$ bn) per year: capex paths x sampled parameters (x scenario multiplier)."""
    sm = fc.series(CAPEX_DRIVER)
    h = horizon_through(fc, CAPEX_DRIVER, OUTLOOK_END_YEAR)
    paths = simulate_paths(sm, h, n, seed)
    fdates = fc.forecast(CAPEX_DRIVER, h)["ds"].to_list()
    years = _year_index(fdates)
    hist = sm.training.df
    rng = np.random.default_rng(seed + 1)
    share = assumptions.accelerator_share.sample(rng, n)
    content = np.full(n, hbm_content) if hbm_content is not None else assumptions.hbm_content.sample(rng, n)
    out: dict[int, np.ndarray] = {}
    for y in sorted(set(years)):
        published = float(hist.filter(pl.col("ds").dt.year() == y)["y"].sum())
        n_pub = hist.filter(pl.col("ds").dt.year() == y).height
        if n_pub + int((years == y).sum()) != 4:
            continue
        total = published + paths[:, years == y].sum(axis=1)
        if path is not None:
            total = total * path.multiplier(y)
        out[int(y)] = total * share * content / 1000.0
    return out


def summarise_paths(samples: dict[int, np.ndarray], levels: tuple[int, ...] = (80, 95)) -> list[dict[str, Any]]:
    rows = []
    for y, s in sorted(samples.items()):
        row: dict[str, Any] = {"year": y, "value": float(np.median(s)), "mean": float(np.mean(s))}
        for lv in levels:
            a = (100 - lv) / 2
            lo, hi = np.percentile(s, [a, 100 - a])
            row[f"lo-{lv}"], row[f"hi-{lv}"] = float(lo), float(hi)
        if y - 1 in samples:
            g = samples[y] / samples[y - 1] - 1
            row["growth_pct"] = float(100 * np.median(g))
        rows.append(row)
    return rows


def memory_scenario(fc: Forecaster, assumptions: HbmAssumptions, target: str, path: CapexPath,
                    n: int = N_PATHS, seed: int = SEED) -> dict[str, Any]:
    """Baseline champion forecast and the capex-conditional one for a memory target, per period and year."""
    if target not in assumptions.elasticities:
        raise ScenarioError(f"no capex-conditional model for {target}; scenario targets: "
                            f"{', '.join([*MEMORY_TARGETS, 'hbm_revenue'])}")
    sm = fc.series(target)
    el = assumptions.elasticities[target]
    h = fc.default_horizon(target)
    base = fc.forecast(target, h)
    dates = base["ds"].to_list()
    paths = simulate_paths(sm, h, n, seed)
    rng = np.random.default_rng(seed + 2)
    beta = el.sample(rng, n)
    mult = np.array([path.multiplier(d.year) for d in dates])
    cond = paths * np.power(mult[None, :], beta[:, None])
    point = base[sm.champion].to_numpy() * np.power(mult, el.value)
    rows = []
    for i, d in enumerate(dates):
        lo80, hi80, lo95, hi95 = np.percentile(cond[:, i], [10, 90, 2.5, 97.5])
        rows.append({"ds": d.isoformat(), "baseline": float(base[sm.champion][i]), "value": float(point[i]),
                     "lo-80": float(lo80), "hi-80": float(hi80), "lo-95": float(lo95), "hi-95": float(hi95),
                     "capex_multiplier": float(mult[i])})
    return {"series_id": target, "model": sm.champion, "unit": get_spec(target).unit,
            "elasticity": asdict(el), "points": rows}


# ------------------------------------------------------------------------------------------ entry points

HBM_ID = "hbm_revenue"


def assumptions_of(fc: Forecaster) -> HbmAssumptions:
    if fc.hbm is None:
        raise ScenarioError("this model has no HBM calibration (train with capex_hyperscalers_total)")
    return HbmAssumptions.from_dict(fc.hbm)


def published_capex(fc: Forecaster) -> dict[int, float]:
    """Complete calendar years of published capex from the capex model's own training data."""
    df = fc.series(CAPEX_DRIVER).training.df
    years = df.group_by(pl.col("ds").dt.year().alias("year")).agg(pl.col("y").sum(), pl.len().alias("n"))
    years = years.filter(pl.col("n") == 4)
    return dict(zip(years["year"].to_list(), years["y"].to_list(), strict=True))


def hbm_outlook(fc: Forecaster, hbm_content: float | None = None) -> list[dict[str, Any]]:
    """Baseline HBM revenue per year with intervals (stored at train time; recomputed for overrides)."""
    assumptions = assumptions_of(fc)
    if hbm_content is None and fc.hbm is not None and "baseline_outlook" in fc.hbm:
        return list(fc.hbm["baseline_outlook"])
    return summarise_paths(hbm_paths(fc, assumptions, None, hbm_content=hbm_content))


def attach_baseline_outlook(fc: Forecaster) -> None:
    """Precompute the HBM baseline so serving it never simulates (called at train time)."""
    if fc.hbm is None or CAPEX_DRIVER not in fc.models:
        return
    fc.hbm = {**fc.hbm, "baseline_outlook": summarise_paths(hbm_paths(fc, assumptions_of(fc)))}


@dataclass
class ScenarioSpec:
    name: str = "custom"
    mode: ScenarioMode = "relative_to_baseline_pct"
    values: dict[int, float] = field(default_factory=dict)
    targets: list[str] = field(default_factory=lambda: [*MEMORY_TARGETS, HBM_ID])
    hbm_content: float | None = None
    description: str = ""

    @classmethod
    def named(cls, name: str, targets: list[str] | None = None) -> ScenarioSpec:
        if name not in NAMED_SCENARIOS:
            raise ScenarioError(f"unknown scenario '{name}'; named scenarios: {', '.join(NAMED_SCENARIOS)}")
        d = NAMED_SCENARIOS[name]
        return cls(name=name, mode=d["mode"], values={int(k): float(v) for k, v in d["values"].items()},
                   targets=targets or [*MEMORY_TARGETS, HBM_ID], description=d["description"])


def run_scenario(fc: Forecaster, spec: ScenarioSpec) -> dict[str, Any]:
    """Memory and HBM forecasts under a capex scenario beside the baseline, with the assumptions echoed."""
    assumptions = assumptions_of(fc)
    unknown = [t for t in spec.targets if t not in (*MEMORY_TARGETS, HBM_ID)]
    if unknown:
        raise ScenarioError(f"no capex-conditional model for {', '.join(unknown)}; scenario targets: "
                            f"{', '.join([*MEMORY_TARGETS, HBM_ID])}")
    if spec.hbm_content is not None and not 0 < spec.hbm_content < 1:
        raise ScenarioError("hbm_content must be between 0 and 1 (HBM revenue per US$ of NVIDIA DC revenue)")
    path = _capex_path(fc, spec.mode, spec.values)
    out: dict[str, Any] = {
        "scenario": {"name": spec.name, "mode": spec.mode, "values": {str(k): v for k, v in spec.values.items()},
                     "description": spec.description},
        "capex": [{"year": y, "baseline_usd_m": path.baseline[y], "scenario_usd_m": path.scenario[y],
                   "multiplier": path.multiplier(y)} for y in sorted(path.baseline)],
        "assumptions": assumptions.to_dict(),
        "targets": {},
    }
    for t in spec.targets:
        if t == HBM_ID:
            out["targets"][t] = {
                "series_id": HBM_ID,
                "unit": "US$ bn",
                "model": "structural (capex x accelerator_share x hbm_content)",
                "baseline": hbm_outlook(fc, spec.hbm_content),  # stored at train time unless overridden
                "scenario": summarise_paths(hbm_paths(fc, assumptions, path, hbm_content=spec.hbm_content)),
            }
        else:
            if t not in fc.models:
                raise ScenarioError(f"{t} is not in this model")
            out["targets"][t] = memory_scenario(fc, assumptions, t, path)
    return out


def _capex_path(fc: Forecaster, mode: ScenarioMode, values: dict[int, float]) -> CapexPath:
    published = published_capex(fc)
    base_years = list(range(max(published) + 1, OUTLOOK_END_YEAR + 1))
    baseline = _capex_baseline(fc, base_years)
    return _apply(mode, values, baseline, published, base_years)


def _apply(mode: ScenarioMode, values: dict[int, float], baseline: dict[int, float], published: dict[int, float],
           base_years: list[int]) -> CapexPath:
    missing = [y for y in base_years if y not in baseline]
    if missing:
        raise ScenarioError(f"the capex forecast does not cover {missing}")
    bad = [y for y in values if y not in baseline]
    if bad:
        raise ScenarioError(f"scenario years {bad} are outside the forecast years {base_years}")
    scenario = dict(baseline)
    prev = published[max(published)]
    for y in base_years:
        if y in values:
            v = float(values[y])
            scenario[y] = {"relative_to_baseline_pct": baseline[y] * (1 + v / 100),
                           "yoy_growth_pct": prev * (1 + v / 100), "absolute_usd_m": v}[mode]
        elif mode == "yoy_growth_pct" and any(k < y for k in values):
            scenario[y] = scenario[y - 1] * baseline[y] / baseline.get(y - 1, published.get(y - 1, baseline[y]))
        if not scenario[y] > 0:
            raise ScenarioError(f"capex in {y} would be {scenario[y]:,.0f} US$ m; it must stay positive")
        prev = scenario[y]
    return CapexPath(baseline=baseline, scenario=scenario, published=published)
