"""`chipcast data ...`: look at the series, and refresh them through the validated ingest path."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from pipelines.catalog import CATALOG, UnknownSeriesError, get_spec
from pipelines.config import get_data_settings
from pipelines.errors import DataValidationError, StoreError
from pipelines.fx import CurrencyError, to_usd, usd_unit
from pipelines.panel import SeriesSummary, latest, load_panel, series_status, summarise
from pipelines.sources import excluded_prints
from pipelines.store import LocalStore, ingest

data_app = typer.Typer(help="Inspect and refresh the real data series.", no_args_is_help=True)
#: wide enough for the tables when output is piped (rich assumes 80 columns off a terminal)
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _panel_and_store(*, vintages: bool = False) -> tuple[pl.DataFrame, LocalStore]:
    settings = get_data_settings()
    store = LocalStore(settings.store_dir)
    try:
        panel = load_panel(data_dir=settings.data_dir, store=store, vintages=vintages, detail=True)
    except (DataValidationError, StoreError) as exc:
        raise _fail(str(exc)) from None
    return panel, store


AcceptOutliers = Annotated[
    bool, typer.Option("--accept-outliers", help="accept values beyond the series' robust jump limit")
]
AcceptRevisions = Annotated[
    bool, typer.Option("--accept-revisions", help="accept revisions of more than 20% of the current value")
]


def _fmt_gaps(gaps: list[date], limit: int = 6) -> str:
    if not gaps:
        return "none"
    shown = ", ".join(g.isoformat()[:7] for g in gaps[:limit])
    return f"{len(gaps)}: {shown}" + (" ..." if len(gaps) > limit else "")


def _summary_dict(s: SeriesSummary, today: date, flagged: int = 0) -> dict[str, object]:
    return {
        "id": s.spec.id,
        "name": s.spec.name,
        "unit": s.spec.unit,
        "currency": s.spec.currency,
        "frequency": s.spec.frequency,
        "vintages": s.spec.vintages,
        "nowcast_only": s.spec.nowcast_only,
        "source": s.spec.source,
        "publication_lag_days": s.spec.publication_lag_days,
        "observations": s.observations,
        "flagged_observations": flagged,
        "first": s.first.isoformat() if s.first else None,
        "last": s.last.isoformat() if s.last else None,
        "last_value": s.last_value,
        "gaps": [g.isoformat() for g in s.gaps],
        "next_expected": s.next_expected.isoformat() if s.next_expected else None,
        "staleness_days": s.staleness_days(today),
        "notes": s.spec.notes,
    }


@data_app.command("list")
def list_series(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Every catalog series with its coverage, last value, gaps, flagged observations and staleness."""
    panel, _ = _panel_and_store()
    today = date.today()
    flagged = dict(
        panel.filter(pl.col("flags").list.len() > 0).group_by("unique_id").len().iter_rows()
    )
    summaries = [summarise(panel, spec) for spec in CATALOG.values()]
    if as_json:
        typer.echo(json.dumps([_summary_dict(s, today, flagged.get(s.spec.id, 0)) for s in summaries], indent=2))
        return
    table = Table(title=f"chipcast series ({len(summaries)})", show_lines=False)
    for col in ("id", "freq", "unit", "vintages", "obs", "first", "last", "last value", "gaps", "flagged",
                "stale (days)"):
        table.add_column(col, overflow="fold")
    for s in summaries:
        table.add_row(
            s.spec.id,
            s.spec.frequency,
            s.spec.unit,
            s.spec.vintages,
            str(s.observations),
            s.first.isoformat()[:7] if s.first else "-",
            s.last.isoformat()[:7] if s.last else "-",
            f"{s.last_value:,.2f}" if s.last_value is not None else "-",
            str(len(s.gaps)),
            str(flagged.get(s.spec.id, 0)),
            str(s.staleness_days(today)),
        )
    console.print(table)


@data_app.command("show")
def show_series(
    series_id: Annotated[str, typer.Argument(help="a catalog id, e.g. wsts_worldwide_sales")],
    tail: Annotated[int, typer.Option(help="how many latest observations to print")] = 12,
    currency: Annotated[
        str | None, typer.Option("--currency", help="show the values in this currency (USD)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One series in detail: provenance, coverage, gaps, staleness, prints and the latest observations."""
    try:
        spec = get_spec(series_id)
    except UnknownSeriesError as exc:
        raise _fail(str(exc)) from None
    if currency is not None and currency.upper() != "USD":
        raise _fail(f"--currency supports USD only, not '{currency}'")
    vintage_panel, store = _panel_and_store(vintages=True)
    panel = latest(vintage_panel)
    s = summarise(panel, spec)
    today = date.today()
    status = series_status(panel, spec, today)
    obs = panel.filter(pl.col("unique_id") == spec.id).sort("ds")
    flagged = obs.filter(pl.col("flags").list.len() > 0).height
    unit, note = spec.unit, ""
    if currency is not None:
        try:
            obs, note = to_usd(obs, spec, panel)
            unit = usd_unit(spec)
        except CurrencyError as exc:
            raise _fail(str(exc)) from None
    prints = vintage_panel.filter(pl.col("unique_id") == spec.id)
    revised = prints.group_by("ds").agg(pl.col("y").n_unique().alias("n")).filter(pl.col("n") > 1).height
    settings = get_data_settings()
    excluded = excluded_prints(spec, settings.data_dir)
    if as_json:
        out = _summary_dict(s, today, flagged)
        out.update({
            "prints": prints.height,
            "revised_periods": revised,
            "excluded_low_confidence": excluded.height,
            "last_published": status.last_published.isoformat() if status.last_published else None,
            "shown_unit": unit,
            "conversion": note or None,
            "observations_tail": [
                {"ds": r["ds"].isoformat(), "value": r["y"], "published": r["published"].isoformat(),
                 "flags": r["flags"]}
                for r in obs.tail(tail).iter_rows(named=True)
            ],
        })
        typer.echo(json.dumps(out, indent=2))
        return
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    rows = [
        ("id", spec.id),
        ("name", spec.name),
        ("unit", spec.unit + (f" (shown in {unit})" if unit != spec.unit else "")),
        ("currency", spec.currency or "- (not a money amount)"),
        ("frequency", spec.frequency),
        ("source", spec.source),
        ("publication lag", f"{spec.publication_lag_days} days after period end"),
        ("calendar-year rule", spec.annual_agg),
        ("fiscal calendar", spec.fiscal_calendar),
        ("ingest file", "- (derived: ingest its parts)" if spec.is_derived else
         "date,value,period_end (the fiscal period's last day)" if spec.fiscal_periods else "date,value"),
        ("vintages", {"true": f"true: {prints.height} prints, {revised} periods printed with differing values; "
                               "as_of() gives values as printed on a date",
                      "latest": "latest values only (revisions in the sources cannot be unwound)"}[spec.vintages]
         + (f"; {store.revisions(spec.id).height} locally ingested revision(s)" if store.root.exists() else "")),
        ("coverage", f"{s.first.isoformat()[:7] if s.first else '-'}..{s.last.isoformat()[:7] if s.last else '-'}"
                     f" ({s.observations} observations)"),
        ("gaps", _fmt_gaps(s.gaps, limit=24)),
        ("flagged observations", str(flagged)),
        ("excluded (low confidence)", ", ".join(f"{r['ds'].isoformat()[:7]}={r['y']:g} (release "
                                                 f"{r['release'].isoformat()[:7] if r['release'] else '-'})"
                                                 for r in excluded.iter_rows(named=True)) or "none"),
        ("last value", f"{s.last_value:,.3f} {spec.unit} ({s.last.isoformat()[:7] if s.last else '-'})"
         if s.last_value is not None else "-"),
        ("last published", status.last_published.isoformat() if status.last_published else "-"),
        ("next figure due", status.next_expected_release.isoformat() if status.next_expected_release else "-"),
        ("staleness", f"{status.staleness_days} days overdue" if status.next_expected_release else "-"),
        ("notes", spec.notes or "-"),
    ]
    if spec.parts:
        rows.insert(6, ("sum of", ", ".join(spec.parts)))
    if note:
        rows.append(("conversion", note))
    for k, v in rows:
        info.add_row(k, v)
    console.print(info)
    shown = obs.tail(tail)
    t = Table(title=f"latest {shown.height} observations ({unit})")
    for col in ("period", "value", "published", "flags"):
        t.add_column(col)
    for r in shown.iter_rows(named=True):
        value = f"{r['y']:,.3f}" if r["y"] is not None else "- (no rate)"
        t.add_row(r["ds"].isoformat(), value, r["published"].isoformat(), ", ".join(r["flags"]) or "")
    console.print(t)


@data_app.command("ingest")
def ingest_file(
    file: Annotated[Path, typer.Argument(
        help="CSV with exactly the columns date,value (date,value,period_end for a series on a fiscal calendar)")],
    series: Annotated[str, typer.Option("--series", help="catalog id the observations belong to")],
    accept_outliers: AcceptOutliers = False,
    accept_revisions: AcceptRevisions = False,
) -> None:
    """Add new (or revised) observations; the whole file is validated and questioned before anything is written.

    Refused (exit 2, nothing written): periods not yet published, values over 1000x the series' largest,
    jumps beyond the series' robust limit (unless --accept-outliers) and revisions over 20% (unless
    --accept-revisions).
    """
    settings = get_data_settings()
    try:
        report = ingest(LocalStore(settings.store_dir), series, file, settings.data_dir, settings.max_ingest_bytes,
                        accept_outliers=accept_outliers, accept_revisions=accept_revisions)
    except (DataValidationError, StoreError, UnknownSeriesError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"[green]ingested[/] {report.series_id}: {report.added} new, {report.revised} revised "
        f"(old values kept), {report.unchanged} unchanged -> {report.path}"
    )


@data_app.command("fetch-fred")
def fetch_fred(
    series: Annotated[str, typer.Argument(help="catalog id of a FRED-backed series, e.g. fred_ipg3344s")],
    accept_outliers: AcceptOutliers = False,
    accept_revisions: AcceptRevisions = False,
) -> None:
    """Download a FRED series (CHIPCAST_FRED_API_KEY) and ingest it through the validated path."""
    import tempfile

    import httpx

    from pipelines import connectors

    try:
        spec = get_spec(series)
    except UnknownSeriesError as exc:
        raise _fail(str(exc)) from None
    if "FRED series" not in spec.source:
        raise _fail(f"{series} is not a FRED series")
    settings = get_data_settings()
    if not settings.fred_api_key:
        raise _fail("set CHIPCAST_FRED_API_KEY to fetch from FRED")
    code = spec.source.rsplit("FRED series ", 1)[1].strip()
    try:
        with httpx.Client(timeout=30) as client:
            result = connectors.fetch_fred_result(code, settings.fred_api_key, client)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{series}.csv"
            connectors.write_date_value_csv(result.df, path)
            report = ingest(
                LocalStore(settings.store_dir), series, path, settings.data_dir, settings.max_ingest_bytes,
                accept_outliers=accept_outliers, accept_revisions=accept_revisions,
            )
    except (connectors.ConnectorError, DataValidationError, StoreError) as exc:
        raise _fail(str(exc)) from None
    gaps = f"; FRED marked {len(result.missing)} period(s) missing (left as gaps)" if result.missing else ""
    console.print(f"[green]fetched[/] {series}: {report.added} new, {report.revised} revised{gaps}")


@data_app.command("fetch-edgar")
def fetch_edgar(
    series: Annotated[str, typer.Argument(help="a company capex series, e.g. capex_microsoft")],
    accept_outliers: AcceptOutliers = False,
    accept_revisions: AcceptRevisions = False,
) -> None:
    """Download SEC EDGAR companyfacts, derive discrete quarters and ingest them (CHIPCAST_SEC_USER_AGENT)."""
    import tempfile

    import httpx

    from pipelines import connectors

    try:
        spec = get_spec(series)
    except UnknownSeriesError as exc:
        raise _fail(str(exc)) from None
    ticker = spec.filter.get("ticker")
    if not series.startswith("capex_") or ticker not in connectors.CIKS:
        raise _fail(f"{series} is not a company capex series; choose one of "
                    + ", ".join(f"capex_{k}" for k in ("microsoft", "alphabet", "amazon", "meta", "oracle")))
    settings = get_data_settings()
    try:
        with httpx.Client(timeout=60) as client:
            payload = connectors.fetch_edgar_companyfacts(connectors.CIKS[ticker], settings.sec_user_agent, client)
        quarters = connectors.parse_companyfacts_capex(payload)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{series}.csv"
            connectors.write_date_value_csv(quarters.select("ds", "y", "period_end"), path,
                                            period_end=spec.fiscal_periods)
            report = ingest(
                LocalStore(settings.store_dir), series, path, settings.data_dir, settings.max_ingest_bytes,
                accept_outliers=accept_outliers, accept_revisions=accept_revisions,
            )
    except (connectors.ConnectorError, DataValidationError, StoreError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"[green]fetched[/] {series}: {report.added} new, {report.revised} revised")
