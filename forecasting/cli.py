"""`chipcast train | backtest | forecast | promote`: the data scientist's loop, with rich progress."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from forecasting.data import NotEnoughDataError
from forecasting.engine import ENGINES, Engine, EngineError, make_engine
from forecasting.forecaster import ForecastRequestError
from forecasting.models import TARGETS
from forecasting.train import TrainResult, train
from pipelines.catalog import UnknownSeriesError, get_spec
from pipelines.store import LocalStore

console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _train_with_progress(series: list[str] | None, when: date | None, engine: Engine | None = None) -> TrainResult:
    from forecasting.tracking import get_tracking_settings

    settings = get_tracking_settings()
    n = len(series) if series else len(TARGETS)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeElapsedColumn(), console=err_console, transient=False) as bar:
        task = bar.add_task("backtesting", total=n)
        seen: list[str] = []

        def step(sid: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(sid)
            bar.update(task, description=f"backtesting {sid}")

        result = train(series, data_dir=settings.data_dir, store=LocalStore(settings.store_dir), when=when,
                       progress=step, engine=engine)
        bar.update(task, completed=n, description="backtests done")
    return result


def _leaderboard_table(sid: str, board: pl.DataFrame, horizon: int | None = None) -> Table:
    t = Table(title=f"{sid} — rolling-origin backtest ({board['windows'][0]} windows)")
    for c in ("model", "h", "MASE", "sMAPE", "RMSE", "cov80", "cov95", "drivers", "champion", "note"):
        t.add_column(c)
    rows = board if horizon is None else board.filter(pl.col("horizon") == horizon)
    for r in rows.sort("horizon", "mase").iter_rows(named=True):
        t.add_row(r["model"], str(r["horizon"]), f"{r['mase']:.3f}", f"{100 * r['smape']:.1f}%",
                  f"{r['rmse']:,.2f}", f"{r['coverage_80']:.2f}", f"{r['coverage_95']:.2f}",
                  "yes" if r["uses_drivers"] else "", "*" if r["champion"] else "", r.get("note") or "")
    return t


def train_cmd(
    series: Annotated[list[str] | None, typer.Option("--series", help="targets to train (default: all)")] = None,
    engine: Annotated[str, typer.Option(help=f"where the statsforecast backtests run: {', '.join(ENGINES)}")] = (
        "local"),
    dask_address: Annotated[str | None, typer.Option(
        "--dask-address", envvar="CHIPCAST_DASK_ADDRESS",
        help="Dask scheduler for --engine dask, e.g. tcp://10.0.0.5:8786 (default: a 2-worker LocalCluster)")] = None,
) -> None:
    """Backtest every target, log the run to MLflow and register a `challenger` version."""
    from forecasting.tracking import get_tracking_settings, log_training

    try:
        runner = make_engine(engine, address=dask_address)
        with runner:
            result = _train_with_progress(series, None, runner)
    except (UnknownSeriesError, NotEnoughDataError, EngineError) as exc:
        raise _fail(str(exc)) from None
    settings = get_tracking_settings()
    with console.status("logging to MLflow and registering the model"):
        run = log_training(result, settings, {"engine": engine})
    summary = Table(title="champions")
    for c in ("series", "champion", "MASE", "baseline MASE", "drivers"):
        summary.add_column(c)
    for sid, sm in result.forecaster.models.items():
        summary.add_row(sid, sm.champion, f"{sm.champion_mase:.3f}", f"{sm.baseline_mase:.3f}",
                        ",".join(sm.drivers) or "-")
    console.print(summary)
    for sid, why in result.skipped.items():
        console.print(f"[yellow]skipped[/] {sid}: {why}")
    console.print(f"registered {settings.registered_model} version {run.version} as [bold]challenger[/] "
                  f"(run {run.run_id}, tracking {settings.tracking_uri})")


def backtest_cmd(
    series: Annotated[str | None, typer.Argument(help="a target id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every target")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the leaderboard(s): every model's backtest metrics and which one is champion."""
    if not series and not all_:
        raise _fail("give a series id or --all")
    try:
        result = _train_with_progress(None if all_ else [series or ""], None)
    except (UnknownSeriesError, NotEnoughDataError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({sid: bt.leaderboard.to_dicts() for sid, bt in result.backtests.items()}, default=str))
        return
    for sid, bt in result.backtests.items():
        console.print(_leaderboard_table(sid, bt.leaderboard))
    for sid, why in result.skipped.items():
        console.print(f"[yellow]skipped[/] {sid}: {why}")


def forecast_cmd(
    series: Annotated[str, typer.Argument(help="a target id, e.g. wsts_worldwide_sales")],
    horizon: Annotated[int | None, typer.Option("--horizon", "-h", help="periods ahead")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="use only data published by this date")] = None,
    level: Annotated[list[int] | None, typer.Option("--level", help="interval levels (repeat)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or table")] = "table",
) -> None:
    """Select a champion on the data published by --as-of and forecast, with the calendar-year outlook."""
    if fmt not in ("json", "table"):
        raise _fail("--format must be json or table")
    try:
        when = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise _fail(f"--as-of must be an ISO date (YYYY-MM-DD), got '{as_of}'") from None
    levels = tuple(level or (80, 95))
    try:
        get_spec(series)
        result = _train_with_progress([series], when)
        if series in result.skipped:
            raise _fail(result.skipped[series])
        fc = result.forecaster
        h = horizon or fc.default_horizon(series)
        frame = fc.forecast(series, h, levels)
        out = fc.outlook(series) if h == fc.default_horizon(series) else None
        if out is None:
            from forecasting.forecaster import outlook

            out = outlook(fc.models[series], h)
    except (UnknownSeriesError, NotEnoughDataError, ForecastRequestError) as exc:
        raise _fail(str(exc)) from None
    sm = fc.models[series]
    used = result.panel.filter(pl.col("unique_id") == series)
    payload = {
        "series": series,
        "unit": get_spec(series).unit,
        "model": sm.champion,
        "as_of": fc.meta.as_of,
        "data_vintage": fc.meta.data_vintage,
        "last_observation": used["ds"].max().isoformat() if used.height else None,  # type: ignore[union-attr]
        "last_published": used["published"].max().isoformat() if used.height else None,  # type: ignore[union-attr]
        "bridged_for_fitting": [d.isoformat() for d in sm.training.bridged],
        "forecast": frame.with_columns(pl.col("ds").cast(pl.String)).to_dicts(),
        "outlook": out.to_dicts(),
    }
    if fmt == "json":
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    t = Table(title=f"{series} forecast — {sm.champion} (as of {fc.meta.as_of or 'latest'})")
    cols = [c for c in frame.columns if c not in ("unique_id",)]
    for c in cols:
        t.add_column(c)
    for r in frame.iter_rows(named=True):
        t.add_row(*[str(r[c]) if c == "ds" else f"{r[c]:,.2f}" for c in cols])
    console.print(t)
    o = Table(title="calendar-year outlook")
    for c in ("year", "value", "95% interval", "growth %", "published/forecast periods"):
        o.add_column(c)
    for r in out.iter_rows(named=True):
        g = "-" if r["growth_pct"] is None else f"{r['growth_pct']:+.1f}%"
        o.add_row(str(r["year"]), f"{r['value']:,.1f}", f"{r['lo-95']:,.1f} .. {r['hi-95']:,.1f}", g,
                  f"{r['published_periods']}/{r['forecast_periods']}")
    console.print(o)


def promote_cmd(
    force: Annotated[bool, typer.Option("--force", help="promote even if the challenger is worse (logged)")] = False,
) -> None:
    """Move the `champion` alias to the challenger if it beats the champion on the same backtest windows."""
    from forecasting.tracking import ModelUnavailableError, promote

    try:
        res = promote(force=force)
    except ModelUnavailableError as exc:
        raise _fail(f"{exc}; run `chipcast train` first") from None
    verb = "[green]promoted[/]" if res.promoted else "[yellow]kept champion[/]"
    console.print(f"{verb}: challenger v{res.challenger} vs champion v{res.champion_before or '-'} — {res.reason}")
    if not res.promoted and not force:
        raise typer.Exit(code=1)


def scenario_cmd(
    name: Annotated[str | None, typer.Argument(help="bear, base or bull (or omit and give --capex)")] = None,
    capex: Annotated[list[str] | None, typer.Option("--capex", help="YEAR=VALUE, repeatable, e.g. 2026=50")] = None,
    mode: Annotated[str, typer.Option(help="relative_to_baseline_pct | yoy_growth_pct | absolute_usd_m")] = (
        "relative_to_baseline_pct"),
    target: Annotated[list[str] | None, typer.Option("--target", help="memory/HBM targets (default: all)")] = None,
    hbm_content: Annotated[float | None, typer.Option(help="override HBM revenue per US$ of NVIDIA DC revenue")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Memory and HBM forecasts under an AI-capex scenario, beside the baseline, from the champion model."""
    from forecasting.hbm import NAMED_SCENARIOS, ScenarioError, ScenarioSpec, run_scenario
    from forecasting.tracking import ModelUnavailableError, load_model

    try:
        if name:
            spec = ScenarioSpec.named(name, target)
        else:
            if mode not in ("relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"):
                raise ScenarioError(f"unknown mode '{mode}'")
            values = {}
            for item in capex or []:
                year, _, val = item.partition("=")
                try:
                    values[int(year)] = float(val)
                except ValueError:
                    raise ScenarioError(f"--capex takes YEAR=VALUE, got '{item}'") from None
            if not values:
                raise ScenarioError(f"name a scenario ({', '.join(NAMED_SCENARIOS)}) or give --capex YEAR=VALUE")
            spec = ScenarioSpec(mode=mode, values=values, description="user-supplied capex path")  # type: ignore[arg-type]
            if target:
                spec.targets = list(target)
        spec.hbm_content = hbm_content
        loaded = load_model("champion")
        result = run_scenario(loaded.forecaster, spec)
    except (ScenarioError, ModelUnavailableError, UnknownSeriesError, ForecastRequestError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    cap = Table(title=f"hyperscaler capex (US$ m): scenario '{spec.name}' — {spec.description}")
    for c in ("year", "baseline", "scenario", "x"):
        cap.add_column(c)
    for r in result["capex"]:
        cap.add_row(str(r["year"]), f"{r['baseline_usd_m']:,.0f}", f"{r['scenario_usd_m']:,.0f}",
                    f"{r['multiplier']:.2f}")
    console.print(cap)
    for sid, res in result["targets"].items():
        t = Table(title=f"{sid} ({res['unit']}) — {res['model']}")
        if sid == "hbm_revenue":
            for c in ("year", "baseline", "scenario", "scenario 95%"):
                t.add_column(c)
            for b, s_ in zip(res["baseline"], res["scenario"], strict=True):
                t.add_row(str(b["year"]), f"{b['value']:,.1f}", f"{s_['value']:,.1f}",
                          f"{s_['lo-95']:,.1f} .. {s_['hi-95']:,.1f}")
        else:
            for c in ("period", "baseline", "scenario", "scenario 95%"):
                t.add_column(c)
            for p in res["points"]:
                t.add_row(p["ds"], f"{p['baseline']:,.1f}", f"{p['value']:,.1f}",
                          f"{p['lo-95']:,.1f} .. {p['hi-95']:,.1f}")
        console.print(t)


def register(app: typer.Typer) -> None:
    app.command("scenario")(scenario_cmd)
    app.command("train")(train_cmd)
    app.command("backtest")(backtest_cmd)
    app.command("forecast")(forecast_cmd)
    app.command("promote")(promote_cmd)
