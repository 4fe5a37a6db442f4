"""`chipcast train | backtest | forecast | promote | scenario`: the data scientist's loop, with rich progress.

``--format json`` prints exactly what the HTTP API answers for the same request (one serializer,
``forecasting.result.to_dict``); tables are for people.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from forecasting.artifact import ForecastRequestError, check_as_of, precheck_request
from forecasting.data import NotEnoughDataError
from forecasting.engine import ENGINES, Engine, EngineError, make_engine
from forecasting.result import ForecastResult, to_dict
from forecasting.targets import LEVELS, TARGETS, NotATargetError
from forecasting.train import TrainResult, train, with_coherent_groups
from pipelines.catalog import UnknownSeriesError, get_spec
from pipelines.errors import DataValidationError, StoreError, first_line
from pipelines.store import LocalStore

console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
#: refused with a clear message and exit 2, never a traceback (a bad raw file, a damaged store file included)
USER_ERRORS = (UnknownSeriesError, NotATargetError, NotEnoughDataError, ForecastRequestError, EngineError,
               DataValidationError, StoreError)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} must be an ISO date (YYYY-MM-DD), got '{value}'") from None


def _train_with_progress(series: Sequence[str] | None, when: date | None, engine: Engine | None = None) -> TrainResult:
    from forecasting.tracking import get_tracking_settings

    settings = get_tracking_settings()
    n = len(series) if series else len(TARGETS)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err_console) as bar:
        task = bar.add_task("evaluating", total=n)
        seen: list[str] = []

        def step(sid: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(sid)
            bar.update(task, description=f"evaluating {sid} at every origin")

        result = train(series, data_dir=settings.data_dir, store=LocalStore(settings.store_dir), when=when,
                       progress=step, engine=engine)
        bar.update(task, completed=n, description="evaluations done")
    return result


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def leaderboard_table(sid: str, board: pl.DataFrame) -> Table:
    windows = board["windows"][0] if board.height else 0
    t = Table(title=f"{sid} — rolling-origin backtest ({windows} origins, each on data as known then)")
    for c in ("model", "h", "MASE", "sMAPE", "cov80", "cov95", "Winkler80", "role", "weight", "note"):
        t.add_column(c)
    for r in board.sort("horizon", "mase", nulls_last=True).iter_rows(named=True):
        t.add_row(("* " if r["served"] else "") + r["model"], str(r["horizon"]), _fmt(r["mase"]),
                  _fmt(None if r["smape"] is None else 100 * r["smape"], ".1f"), _fmt(r["coverage_80"], ".2f"),
                  _fmt(r["coverage_95"], ".2f"), _fmt(r["winkler_80"], ".2f"), r["role"],
                  _fmt(r["weight"], ".2f"), r.get("note") or "")
    return t


def train_cmd(
    series: Annotated[list[str] | None, typer.Option("--series", help="targets to train (default: all)")] = None,
    engine: Annotated[str, typer.Option(help=f"where the statsforecast fits run: {', '.join(ENGINES)}")] = "local",
    dask_address: Annotated[str | None, typer.Option(
        "--dask-address", envvar="CHIPCAST_DASK_ADDRESS",
        help="Dask scheduler for --engine dask, e.g. tcp://10.0.0.5:8786 (default: a 2-worker LocalCluster)")] = None,
) -> None:
    """Evaluate every target, log the run to MLflow and register a `challenger` version.

    Series not trained here are carried unchanged from the champion. Exits 1 if a series had to be skipped.
    """
    from forecasting.tracking import get_tracking_settings, log_training

    _recover()
    try:
        wanted = with_coherent_groups(series)
        if series and wanted and set(wanted) != set(series):
            console.print("training with the series served coherently with them: " + ", ".join(wanted))
        with make_engine(engine, address=dask_address) as runner:
            result = _train_with_progress(wanted, None, runner)
    except USER_ERRORS as exc:
        raise _fail(str(exc)) from None
    settings = get_tracking_settings()
    with console.status("logging to MLflow and registering the model"):
        run = log_training(result, settings, {"engine": engine})
    summary = Table(title="served methods")
    for c in ("series", "method", "MASE", "best baseline MASE", "origins", "last observation"):
        summary.add_column(c)
    for sid, sm in result.forecaster.models.items():
        summary.add_row(sid, sm.method.name, _fmt(sm.method.mase), _fmt(sm.method.baseline_mase),
                        str(sm.method.backtest_origins), str(sm.data.last_observation or "-"))
    console.print(summary)
    if run.carried:
        console.print("carried unchanged from the champion: "
                      + ", ".join(f"{sid} (v{v})" for sid, v in sorted(run.carried.items())))
    if run.retired:
        console.print("retired (no longer forecast; not carried): " + ", ".join(run.retired))
    console.print(f"registered {settings.registered_model} version {run.version} as [bold]challenger[/] "
                  f"(run {run.run_id}, tracking {settings.tracking_uri})")
    if result.skipped:
        for sid, why in result.skipped.items():
            err_console.print(f"[bold yellow]skipped[/] {sid}: {why}")
        err_console.print(f"{len(result.skipped)} series could not be trained (see above); the version carries the "
                          "champion's model for any of them it served")
        raise typer.Exit(code=1)


def _recover() -> None:
    """Mark runs of killed processes FAILED and remove their scratch dirs (never stops the command)."""
    from forecasting.tracking import get_tracking_settings, recover

    try:
        recover(get_tracking_settings())
    except Exception as exc:
        err_console.print(f"[yellow]warning:[/] could not check the tracking store for interrupted runs: "
                          f"{type(exc).__name__}")


def _log_best_effort(what: str, log: Callable[[], str]) -> None:
    """Log a backtest/forecast run to MLflow; a tracking failure is reported, not fatal."""
    try:
        run_id = log()
    except Exception as exc:
        err_console.print(f"[yellow]warning:[/] the {what} was not logged to MLflow: {type(exc).__name__}: "
                          f"{first_line(exc, 200)}")
        return
    err_console.print(f"logged MLflow run {run_id}")


def backtest_cmd(
    series: Annotated[str | None, typer.Argument(help="a target id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every target")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="evaluate on data published by this date")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the leaderboard(s): every model and the served combination, scored on the same origins."""
    if not series and not all_:
        raise _fail("give a series id or --all")
    when = _date(as_of, "--as-of")
    try:
        check_as_of(when)
        with make_engine("local") as runner:
            result = _train_with_progress(None if all_ else [series or ""], when, runner)
    except USER_ERRORS as exc:
        raise _fail(str(exc)) from None
    if not any(sm.kind == "fitted" for sm in result.forecaster.models.values()):
        # nothing could be evaluated (e.g. an --as-of before enough history): an error, not an empty success
        why = "; ".join(f"{sid}: {w}" for sid, w in result.skipped.items()) or "no target could be evaluated"
        raise _fail(f"nothing to backtest: {why}")
    from forecasting.tracking import log_backtest

    _log_best_effort("backtest", lambda: log_backtest(result))
    boards = {sid: sm.leaderboard for sid, sm in result.forecaster.models.items() if sm.kind == "fitted"}
    if as_json:
        typer.echo(json.dumps({sid: b.to_dicts() for sid, b in boards.items()}, default=str))
        return
    for sid, board in boards.items():
        console.print(leaderboard_table(sid, board))
    for sid, why in result.skipped.items():
        console.print(f"[yellow]skipped[/] {sid}: {why}")


def forecast_cmd(
    series: Annotated[str, typer.Argument(help="a target id, e.g. wsts_worldwide_sales")],
    horizon: Annotated[int | None, typer.Option("--horizon", "-h", help="periods ahead")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="use only data published by this date")] = None,
    level: Annotated[list[int] | None, typer.Option("--level", help="interval levels (repeat)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or table")] = "table",
) -> None:
    """Evaluate the target on the data published by --as-of and forecast, with the calendar-year outlook."""
    if fmt not in ("json", "table"):
        raise _fail("--format must be json or table")
    when = _date(as_of, "--as-of")
    levels = tuple(level or LEVELS)
    try:
        precheck_request(get_spec(series), horizon, levels, when)  # before minutes of training
        from forecasting.reconcile import served_with

        with make_engine("local") as runner:  # a derived series is trained with what it is derived from
            result = _train_with_progress(list(served_with(series)), when, runner)
        if series in result.skipped:
            raise _fail(result.skipped[series])
        res = result.forecaster.result(series, horizon, levels)
    except USER_ERRORS as exc:
        raise _fail(str(exc)) from None
    # staleness is judged on the day the forecast is made: the as-of date, or today
    body = to_dict(res, today=when or date.today())
    from forecasting.tracking import log_forecast

    _log_best_effort("forecast", lambda: log_forecast(result, series, body, horizon))
    if fmt == "json":
        typer.echo(json.dumps(body, indent=2))
        return
    print_result(res)


def print_result(res: ForecastResult) -> None:
    m, d = res.method, res.data
    console.print(f"[bold]{res.name}[/] ({res.unit}) — {m.name}: {m.description}")
    console.print(f"data: last observation {d.last_observation}, published {d.last_published}, next release "
                  f"expected {d.next_expected_release}; as of {d.as_of}; backtest on {m.backtest_origins} origins")
    frame = res.frame
    t = Table(title=f"{res.series_id} forecast (h={res.horizon})")
    for c in frame.columns[1:]:
        t.add_column(c)
    for r in frame.iter_rows(named=True):
        t.add_row(*[str(r[c]) if c == "ds" else f"{r[c]:,.2f}" for c in frame.columns[1:]])
    console.print(t)
    o = Table(title="calendar-year outlook")
    for c in ("year", "value", "95% interval", "growth %", "growth 95%", "published/forecast periods"):
        o.add_column(c)
    for y in res.outlook:
        iv = next((i for i in y.intervals if i.level == max(res.levels)), None)
        gv = next((i for i in y.growth_intervals if i.level == max(res.levels)), None)
        o.add_row(str(y.year), f"{y.value:,.1f}", f"{iv.lo:,.1f} .. {iv.hi:,.1f}" if iv else "-",
                  "-" if y.growth_pct is None else f"{y.growth_pct:+.1f}%",
                  f"{gv.lo:+.1f} .. {gv.hi:+.1f}" if gv else "-", f"{y.published_periods}/{y.forecast_periods}")
    console.print(o)
    for note in res.notes:
        console.print(f"[dim]note:[/] {note}")


def promote_cmd(
    force: Annotated[bool, typer.Option("--force", help="promote even if the challenger is worse (logged)")] = False,
) -> None:
    """Move the `champion` alias to the challenger if it is at least as good and serves every series."""
    from forecasting.tracking import ModelUnavailableError, promote

    try:
        res = promote(force=force)
    except ModelUnavailableError as exc:
        raise _fail(f"{exc}; run `chipcast train` first") from None
    verb = "[green]promoted[/]" if res.promoted else "[yellow]kept champion[/]"
    console.print(f"{verb}: challenger v{res.challenger} vs champion v{res.champion_before or '-'} — {res.reason}")
    if not res.promoted:
        raise typer.Exit(code=1)


def scenario_cmd(
    name: Annotated[str | None, typer.Argument(
        help="bear, base, bull or guidance (the companies' dated capex guidance); or omit and give --capex")] = None,
    capex: Annotated[list[str] | None, typer.Option("--capex", help="YEAR=VALUE, repeatable, e.g. 2026=50")] = None,
    mode: Annotated[str, typer.Option(help="relative_to_baseline_pct | yoy_growth_pct | absolute_usd_m")] = (
        "relative_to_baseline_pct"),
    target: Annotated[list[str] | None, typer.Option("--target", help="memory/HBM targets (default: all)")] = None,
    hbm_content: Annotated[float | None, typer.Option(help="override HBM revenue per US$ of NVIDIA DC revenue")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Memory and HBM forecasts under an AI-capex scenario, beside the baseline, from the champion model."""
    from forecasting.hbm import MissingPanelError, ScenarioError, ScenarioSpec, capex_annual
    from forecasting.scenarios import GUIDANCE, guidance_spec, run_scenario, scenario_to_dict
    from forecasting.tracking import ModelUnavailableError, load_model
    from pipelines.config import get_data_settings
    from pipelines.fx import FX_SERIES, CurrencyError
    from pipelines.guidance import load_capex_guidance
    from pipelines.panel import load_panel

    try:
        loaded = load_model("champion")
        if name == GUIDANCE:
            statements = load_capex_guidance(get_data_settings().data_dir, include_context=True)
            spec = guidance_spec(loaded.forecaster, statements, list(target or []), hbm_content)
        elif name:
            spec = ScenarioSpec.named(name, list(target or []), capex_annual(loaded.forecaster)[0])
        else:
            values = {}
            for item in capex or []:
                year, _, val = item.partition("=")
                try:
                    values[int(year)] = float(val)
                except ValueError:
                    raise ScenarioError(f"--capex takes YEAR=VALUE, got '{item}'") from None
            if not values:
                raise ScenarioError("name a scenario (bear, base, bull, guidance) or give --capex YEAR=VALUE")
            spec = ScenarioSpec(mode=mode, values=values, targets=list(target or []),  # type: ignore[arg-type]
                                description="user-supplied capex path")
        spec.hbm_content = hbm_content
        data = get_data_settings()
        rates = load_panel(FX_SERIES.values(), data_dir=data.data_dir, store=LocalStore(data.store_dir))
        result = run_scenario(loaded.forecaster, spec, rates)
    except (ScenarioError, ModelUnavailableError, MissingPanelError, CurrencyError, *USER_ERRORS) as exc:
        raise _fail(str(exc)) from None
    body = scenario_to_dict(result, loaded.metadata(), today=date.today())
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    sc = body["scenario"]
    cap = Table(title=f"hyperscaler capex (US$ m): scenario '{sc['name']}' — {sc['description']}")
    for c in ("year", "baseline", "scenario", "x"):
        cap.add_column(c)
    for r in body["capex"]:
        cap.add_row(str(r["year"]), f"{r['baseline']:,.0f}", f"{r['scenario']:,.0f}", f"{r['multiplier']:.2f}")
    console.print(cap)
    if sc.get("companies"):
        who = Table(title="capex by company in the scenario (guidance midpoint, or the company's own forecast)")
        for c in ("company", "year", "source", "US$ m"):
            who.add_column(c)
        for c in sc["companies"]:
            who.add_row(str(c["company"]), str(c["year"]), str(c["source"]), f"{c['value_usd_m']:,.0f}")
        console.print(who)
    for sid, res in body["targets"].items():
        t = Table(title=f"{sid} ({res['baseline']['unit']}) — calendar years, baseline vs scenario")
        for c in ("year", "baseline", "baseline 95%", "scenario", "scenario 95%"):
            t.add_column(c)
        scen = {y["year"]: y for y in res["scenario"]["outlook"]}
        for b in res["baseline"]["outlook"]:
            s_ = scen.get(b["year"])
            bi = b["intervals"][-1] if b["intervals"] else None
            si = s_["intervals"][-1] if s_ and s_["intervals"] else None
            t.add_row(str(b["year"]), f"{b['value']:,.1f}", f"{bi['lo']:,.1f} .. {bi['hi']:,.1f}" if bi else "-",
                      f"{s_['value']:,.1f}" if s_ else "-", f"{si['lo']:,.1f} .. {si['hi']:,.1f}" if si else "-")
        console.print(t)


def track_record_cmd(
    series: Annotated[str, typer.Argument(help="a target id")] = "wsts_worldwide_sales",
    as_of: Annotated[str | None, typer.Option("--as-of", help="evaluate on data published by this date")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """What chipcast would have said each 1 June and 1 December (true vintages), and what then happened."""
    from forecasting.evaluation import evaluate_target
    from forecasting.targets import get_target
    from forecasting.track_record import REFERENCE_MODELS, summary, track_dates, track_record
    from forecasting.tracking import get_tracking_settings
    from forecasting.zoo import COMBINATION
    from pipelines.panel import load_panel

    if fmt not in ("table", "json", "csv"):
        raise _fail("--format must be table, json or csv")
    when = _date(as_of, "--as-of") or date.today()
    settings = get_tracking_settings()
    try:
        cfg = get_target(series)
        with console.status(f"evaluating {series} at every origin and at each 1 June / 1 December"), \
                make_engine("local") as runner:
            panel = load_panel(data_dir=settings.data_dir, store=LocalStore(settings.store_dir), vintages=True)
            ev = evaluate_target(panel, cfg, when, extra_origins=track_dates(date(2000, 1, 1), when), engine=runner)
            record = track_record(ev, models=(COMBINATION, *REFERENCE_MODELS))
    except USER_ERRORS as exc:
        raise _fail(str(exc)) from None
    if fmt == "csv":
        typer.echo(record.write_csv(), nl=False)
        return
    if fmt == "json":
        typer.echo(json.dumps({"series_id": series, "rows": record.to_dicts(),
                               "summary": summary(record).to_dicts()}, default=str, indent=2))
        return
    t = Table(title=f"{series}: what chipcast said (Combination) vs what happened, % growth")
    for c in ("said on", "data to", "year", "forecast", "80% interval", "first print", "latest", "error pp", "in 80%"):
        t.add_column(c)
    for r in record.filter(pl.col("model") == COMBINATION).iter_rows(named=True):
        t.add_row(str(r["origin"]), str(r["last_observation"])[:7], str(r["year"]), f"{r['forecast_growth_pct']:+.1f}",
                  f"{r['growth_lo_80']:+.1f} .. {r['growth_hi_80']:+.1f}", _fmt(r["actual_growth_first_pct"], "+.1f"),
                  _fmt(r["actual_growth_latest_pct"], "+.1f"), _fmt(r["error_pp"], "+.1f"),
                  "-" if r["hit_80"] is None else ("yes" if r["hit_80"] else "no"))
    console.print(t)
    s = Table(title="summary (scored on growth as known today)")
    for c in ("question", "model", "origins", "years", "MAE pp", "bias pp", "80% hit", "95% hit"):
        s.add_column(c)
    for r in summary(record).iter_rows(named=True):
        s.add_row(r["question"], r["model"], str(r["origins"]), f"{r['first_year']}-{r['last_year']}",
                  f"{r['mae_pp']:.2f}", f"{r['bias_pp']:+.2f}", f"{r['hit_80']:.2f}", f"{r['hit_95']:.2f}")
    console.print(s)


def register(app: typer.Typer) -> None:
    app.command("track-record")(track_record_cmd)
    app.command("scenario")(scenario_cmd)
    app.command("train")(train_cmd)
    app.command("backtest")(backtest_cmd)
    app.command("forecast")(forecast_cmd)
    app.command("promote")(promote_cmd)
