"""Convert won and New-Taiwan-dollar series to US dollars with the Fed's monthly average rates.

The rule, stated in every note this module returns:

* a monthly figure is converted at the average rate of the same month (Fed H.10 via FRED: EXKOUS for
  KRW, EXTAUS for TWD; catalog series ``fx_krw_per_usd`` / ``fx_twd_per_usd``);
* a quarterly (or annual) figure at the arithmetic mean of the monthly averages of its months;
* a period whose rate is not published yet (the panel has no average for one of its months after the
  last published month) is converted at the last published month's rate, and the note lists it;
* a period with a month before the first published rate (or inside a gap of the rates) is left null.

USD = local amount / (local currency per US$), times the unit factor (KRW trn -> US$ bn is x 1000).
Companies that publish their own conversion rate (TSMC does, quarterly) may differ slightly.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.catalog import SeriesSpec
from pipelines.sources import latest

#: the catalog series holding local currency per US$ for each convertible currency
FX_SERIES: dict[str, str] = {"KRW": "fx_krw_per_usd", "TWD": "fx_twd_per_usd"}
#: source unit -> (US$ unit, factor) so that usd = value * factor / rate
USD_UNITS: dict[str, tuple[str, float]] = {
    "KRW trn": ("US$ bn", 1000.0),
    "NT$ m": ("US$ m", 1.0),
}


#: US$ units and their size in dollars, so amounts in different US$ units are never added as they are
USD_MAGNITUDES: dict[str, float] = {"US$ m": 1e6, "US$ bn": 1e9}


def usd_unit_factor(from_unit: str, to_unit: str) -> float:
    """Multiply an amount in ``from_unit`` by this to express it in ``to_unit`` (both US$ units)."""
    if from_unit not in USD_MAGNITUDES or to_unit not in USD_MAGNITUDES:
        raise CurrencyError(f"cannot rescale {from_unit!r} to {to_unit!r}: known US$ units are "
                            f"{', '.join(USD_MAGNITUDES)}")
    return USD_MAGNITUDES[from_unit] / USD_MAGNITUDES[to_unit]


class CurrencyError(ValueError):
    """The series cannot be shown in US$ (not a money series, or no published rate)."""


def usd_unit(spec: SeriesSpec) -> str:
    """The unit of ``spec`` once converted to US$."""
    if spec.currency == "USD":
        return spec.unit
    if spec.currency is None or spec.unit not in USD_UNITS:
        raise CurrencyError(f"{spec.id} ({spec.unit}) is not a money series chipcast can convert to US$")
    return USD_UNITS[spec.unit][0]


def to_usd(
    frame: pl.DataFrame,
    spec: SeriesSpec,
    panel: pl.DataFrame,
    *,
    value_col: str = "y",
) -> tuple[pl.DataFrame, str]:
    """``frame`` (rows of ``spec`` with ``ds`` and ``value_col``) in US$, and a note stating the conversion.

    ``panel`` supplies the rates (the default panel, an as-of view, or a vintage panel: its latest prints
    are used). The returned frame keeps every column, with ``value_col`` converted, plus ``fx_rate`` (local
    currency per US$ used) and ``fx_carried_forward`` (true where the period's rate was not published yet).
    """
    if spec.currency == "USD":
        return frame, f"{spec.id} is published in US$ ({spec.unit}); no conversion."
    unit = usd_unit(spec)
    assert spec.currency is not None
    fx_id = FX_SERIES[spec.currency]
    factor = USD_UNITS[spec.unit][1]
    rates = latest(panel.filter(pl.col("unique_id") == fx_id)).select(
        pl.col("ds").alias("month"), pl.col("y").alias("rate")
    )
    if rates.height == 0:
        raise CurrencyError(f"no {spec.currency} rate in the panel ({fx_id}); load it with the series")
    last_month, last_rate = rates.sort("month").row(-1)
    first_month: date = rates["month"].min()  # type: ignore[assignment]
    n_months = spec.frequency.months
    periods = frame.select(pl.col("ds").unique()).with_columns(
        pl.date_ranges(pl.col("ds"), pl.col("ds").dt.offset_by(f"{n_months - 1}mo"), "1mo").alias("month")
    )
    per_period = (
        periods.explode("month")
        .join(rates, on="month", how="left")
        .group_by("ds")
        .agg(pl.col("rate").mean().alias("mean_rate"), pl.col("rate").count().alias("n"),
             pl.col("month").max().alias("last_needed"))
        .with_columns(
            pl.when(pl.col("n") == n_months)
            .then(pl.col("mean_rate"))
            .when(pl.col("last_needed") > last_month)
            .then(pl.lit(last_rate))
            .alias("fx_rate"),
            ((pl.col("n") < n_months) & (pl.col("last_needed") > last_month)).alias("fx_carried_forward"),
        )
        .select("ds", "fx_rate", "fx_carried_forward")
    )
    out = (
        frame.drop([c for c in ("fx_rate", "fx_carried_forward") if c in frame.columns])
        .join(per_period, on="ds", how="left")
        .with_columns((pl.col(value_col) * factor / pl.col("fx_rate")).alias(value_col))
    )
    rule = (
        "the same month's average rate" if n_months == 1
        else f"the mean of the {n_months} monthly average rates of the period"
    )
    code = {"KRW": "EXKOUS", "TWD": "EXTAUS"}[spec.currency]
    note = (
        f"Converted from {spec.unit} to {unit}: value x {factor:g} / ({spec.currency} per US$), each period at "
        f"{rule} (Fed H.10 via FRED {code}, series {fx_id}; rates published through {last_month:%Y-%m})."
    )
    carried = out.filter(pl.col("fx_carried_forward"))["ds"].sort().to_list()
    if carried:
        shown = ", ".join(d.isoformat() for d in carried)
        note += (f" Not yet published for {shown}: converted at the last published month's rate "
                 f"({last_month:%Y-%m}, {last_rate:g}).")
    missing = out.filter(pl.col("fx_rate").is_null())["ds"].sort().to_list()
    if missing:
        note += (f" No published rate for {len(missing)} period(s) (rates start {first_month:%Y-%m}): "
                 "left empty, never guessed.")
    return out, note
