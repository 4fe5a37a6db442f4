"""Run a capex scenario and shape its answer: the stored baseline beside the scenario, one shape per target.

Every target (memory revenues and HBM alike) answers with two forecast results in the one result shape
(``forecasting.result.to_dict``): ``baseline`` is always the stored forecast of the serving model, never
recomputed with the scenario's parameters; ``scenario`` is the same series under the scenario's capex
path (and parameter overrides, which apply to the scenario only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from forecasting.artifact import Forecaster
from forecasting.hbm import (
    BOUNDS,
    CAPEX_DRIVER,
    CapexPath,
    HbmAssumptions,
    ScenarioError,
    ScenarioSpec,
    annual_paths,
    assumptions_of,
    capex_annual,
    capex_path,
    scenario_series,
    validate,
)
from forecasting.result import ForecastResult, round_value, to_dict
from pipelines.catalog import CATALOG


@dataclass
class ScenarioResult:
    spec: ScenarioSpec
    capex: CapexPath
    assumptions: HbmAssumptions
    #: per target: (baseline, scenario)
    targets: dict[str, tuple[ForecastResult, ForecastResult]]


def run_scenario(fc: Forecaster, spec: ScenarioSpec, panel: pl.DataFrame | None) -> ScenarioResult:
    """Validate (raises ScenarioError with the allowed values), then compute every target's scenario.

    ``panel``: the data panel (``pipelines.panel.load_panel``); the memory market reads its exchange rates to
    move with its makers (without one, a scenario for it raises ``MissingPanelError``; other targets run).
    """
    capex_years = capex_annual(fc)  # read once: validation, the capex path and HBM all need it
    spec = validate(fc, spec, capex_years)
    path = capex_path(fc, spec, capex_years)
    out: dict[str, tuple[ForecastResult, ForecastResult]] = {}
    for t in spec.targets:
        base = fc.series(t)
        years = len(path.years)
        scen = scenario_series(fc, t, path, spec, capex_years=capex_years, panel=panel)
        out[t] = (base.result(outlook_years=years), scen.result(outlook_years=years,
                                                                notes=[f"scenario '{spec.name}'"]))
    return ScenarioResult(spec, path, assumptions_of(fc), out)


def scenario_to_dict(res: ScenarioResult, model: Mapping[str, Any] | None = None, *,
                     today: date | None = None) -> dict[str, Any]:
    spec = res.spec
    return {
        "scenario": {"name": spec.name, "mode": spec.mode, "values": {str(k): v for k, v in spec.values.items()},
                     "description": spec.description, "hbm_content": spec.hbm_content, "targets": spec.targets,
                     "bounds": {"min": BOUNDS[spec.mode][0], "max": BOUNDS[spec.mode][1]},
                     "sources": list(spec.sources), "statements": list(spec.statements),
                     "companies": list(spec.companies)},
        "capex": [{"year": y, "baseline": round_value(res.capex.baseline[y]),
                   "scenario": round_value(res.capex.scenario[y]),
                   "multiplier": round_value(res.capex.multiplier(y), 4)}
                  for y in res.capex.years],
        "assumptions": res.assumptions.to_dict(),
        "targets": {t: {"baseline": to_dict(b, today=today), "scenario": to_dict(s, today=today)}
                    for t, (b, s) in res.targets.items()},
        "model": dict(model) if model is not None else None,
    }


# ------------------------------------------------------------------------------------------ guidance scenario

GUIDANCE = "guidance"
_CALENDAR_YEAR = re.compile(r"^calendar (\d{4})$")


def guidance_spec(fc: Forecaster, guidance: pl.DataFrame, targets: list[str] | None = None,
                  hbm_content: float | None = None) -> ScenarioSpec:
    """The named ``guidance`` scenario: capex in the guided years from the companies' own dated statements.

    ``guidance`` is ``pipelines.guidance.load_capex_guidance(data_dir, include_context=True)``: other people's
    statements, used here as a scenario input only (never as data a model is trained or scored on). For each
    company of the capex driver and each calendar year the capex forecast completes, the latest statement
    that gives a number for that calendar year and is not flagged CONFLICTING is used, at the midpoint of its
    range; a company without one keeps its own capex forecast (its baseline). The scenario is the sum, as
    ``absolute_usd_m`` for the guided years; other years keep the baseline. Every statement considered is
    echoed with whether it was used and why not. Guidance bases (e.g. incl. finance leases) differ from the
    cash capex series; the description says so.
    """
    capex_years = capex_annual(fc)
    validate(fc, ScenarioSpec(name=GUIDANCE, targets=list(targets or [])), capex_years)  # it can run scenarios
    parts = CATALOG[CAPEX_DRIVER].parts
    by_ticker = {str(CATALOG[p].filter.get("ticker")): p for p in parts}
    years = capex_years[0]
    model_as_of = date.fromisoformat(fc.meta.as_of)
    candidates: dict[tuple[str, int], dict[str, Any]] = {}
    statements: list[dict[str, Any]] = []
    # a statement dated by month only counts as known from the month's last day, but may have been made on its
    # first: ordered by that, so it never supersedes a dated statement of the same month it may have preceded
    made = pl.when(pl.col("date_precision") == "month").then(pl.col("date_stated").dt.month_start())
    in_order = guidance.sort(made.otherwise(pl.col("date_stated")), nulls_last=False, maintain_order=True)
    for row in in_order.iter_rows(named=True):
        flags = list(row["flags"] or [])
        series_id = by_ticker.get(str(row["ticker"]))
        m = _CALENDAR_YEAR.match((row["period_covered"] or "").strip())
        year = int(m.group(1)) if m else None
        reasons = []
        if "CONTEXT_ONLY" in flags:
            reasons.append("not a company's guidance for its own capex (context only)")
        elif series_id is None:
            reasons.append(f"{row['company']} is not one of the companies in {CAPEX_DRIVER}")
        if year is None:
            reasons.append(f"period '{row['period_covered']}' is not a calendar year")
        elif year not in years:
            reasons.append(f"{year} is not a year the capex forecast completes ({', '.join(map(str, years))})")
        if "NO_NUMBER" in flags or row["low_usd_bn"] is None or row["high_usd_bn"] is None:
            reasons.append("no number given")
        if "CONFLICTING" in flags:
            reasons.append("flagged CONFLICTING: the sources disagree on the figure or its period")
        if row["date_stated"] is None:
            reasons.append("undated: it cannot be ordered against the other statements")
        elif row["date_stated"] > model_as_of:
            reasons.append(f"stated after the model's data (as of {model_as_of.isoformat()})")
        lo, hi = row["low_usd_bn"], row["high_usd_bn"]
        item: dict[str, Any] = {
            "company": row["company"], "ticker": row["ticker"], "series_id": series_id,
            "date_stated": row["date_stated"].isoformat() if row["date_stated"] else None,
            "date_precision": row["date_precision"], "period_covered": row["period_covered"], "basis": row["basis"],
            "low_usd_bn": lo, "high_usd_bn": hi,
            "midpoint_usd_bn": round_value((lo + hi) / 2) if lo is not None and hi is not None else None,
            "statement": row["statement"], "source_url": row["source_url"], "flags": flags, "used": False,
            "reason": "; ".join(reasons),
        }
        statements.append(item)
        if not reasons and series_id is not None and year is not None:
            earlier = candidates.get((series_id, year))
            if earlier is not None:
                earlier["reason"] = f"superseded by the statement of {item['date_stated']}"
            candidates[(series_id, year)] = item
    if not candidates:
        raise ScenarioError("no usable capex guidance for the years the capex forecast completes "
                            f"({', '.join(map(str, years))}); see pipelines.guidance for the statements and flags")
    guided_years = sorted({y for _, y in candidates})
    values: dict[int, float] = {}
    companies: list[dict[str, Any]] = []
    for year in guided_years:
        total = 0.0
        for part in parts:
            base = _company_year(fc, part, year)
            used = candidates.get((part, year))
            if used is not None:
                used["used"] = True
                used["reason"] = (f"latest usable guidance for {year}: midpoint of {used['low_usd_bn']:g}-"
                                  f"{used['high_usd_bn']:g} US$ bn")
                value = float(used["midpoint_usd_bn"]) * 1000.0
            elif base is None:
                raise ScenarioError(
                    f"the guidance scenario keeps the capex forecast of companies without usable guidance, but "
                    f"this model does not forecast {part} ({year}); train it with the capex companies")
            else:
                value = base
            total += value
            companies.append({"company": _company(part), "series_id": part, "year": year,
                              "value_usd_m": round_value(value), "baseline_usd_m": round_value(base),
                              "source": "guidance" if used is not None else "baseline",
                              "statement_date": used["date_stated"] if used is not None else None})
        values[year] = float(round_value(total) or total)
    guided = [c for c in companies if c["source"] == "guidance"]
    kept = [c for c in companies if c["source"] == "baseline"]
    used_text = ", ".join(f"{c['company']} {c['year']} {c['value_usd_m'] / 1000:g}" for c in guided)
    kept_text = ", ".join(f"{c['company']} {c['year']}" for c in kept)
    description = (
        f"capex in {', '.join(map(str, guided_years))} from the companies' latest usable guidance ({used_text} "
        "US$ bn, midpoints)" + (f" and the capex forecast for {kept_text} (no usable guidance)" if kept else "")
        + "; other years: the capex forecast. Guidance is what companies said, used as a scenario input only; "
          "its bases (some include finance leases) differ from the cash capex series.")
    spec = ScenarioSpec(name=GUIDANCE, mode="absolute_usd_m", values=values, targets=list(targets or []),
                        hbm_content=hbm_content, description=description,
                        sources=sorted({s["source_url"] for s in statements if s["used"]}),
                        statements=statements, companies=companies)
    return validate(fc, spec, capex_years)


def _company_year(fc: Forecaster, series_id: str, year: int) -> float | None:
    """The company's own capex forecast for a calendar year (None if this model does not forecast it)."""
    if series_id not in fc.models:
        return None
    years, point, _ = annual_paths(fc.series(series_id))
    return float(point[years.index(year)]) if year in years else None


def _company(series_id: str) -> str:
    return CATALOG[series_id].name.split(" capital expenditure")[0]
