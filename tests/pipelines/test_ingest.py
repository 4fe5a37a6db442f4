"""Bad input gets a precise error and leaves every stored series byte-for-byte unchanged.

Values ingested here are synthetic (made up for the test), written into a temporary store; the shipped
snapshot is only read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.config import get_data_settings
from pipelines.errors import DataValidationError, StoreError
from pipelines.panel import load_panel
from pipelines.store import LocalStore, ingest
from service.cli import app
from tests.conftest import REAL_DATA_DIR, digest_tree

MAX = 100_000
TODAY = date(2026, 12, 1)
WSTS = "wsts_worldwide_sales"


def _csv(tmp_path: Path, text: str, name: str = "new.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "store")
    # a first good ingest, so "unchanged" means an existing file must keep its bytes
    ingest(s, WSTS, _csv(tmp_path, "date,value\n2026-01-01,80.1\n", "seed.csv"), REAL_DATA_DIR, MAX, today=TODAY)
    return s


BAD_FILES = {
    "bad date": ("date,value\n2026-02-01,81.0\n2026-02-30,82.0\n", 3, "is not an ISO date"),
    "text in value": ("date,value\n2026-02-01,81.0\n2026-03-01,lots\n", 3, "value 'lots' is not a number"),
    "duplicate period": ("date,value\n2026-02-01,81.0\n2026-02-01,82.0\n", 2, "duplicate period 2026-02-01"),
    "not a period start": ("date,value\n2026-02-15,81.0\n", 2, "not the first day of a monthly period"),
    "negative sales": ("date,value\n2026-02-01,-81.0\n", 2, "is negative"),
    "blank value": ("date,value\n2026-02-01,\n", 2, "value is empty"),
    "wrong columns": ("month,sales\n2026-02-01,81.0\n", 1, "expected exactly ['date', 'value']"),
    "extra column": ("date,value,note\n2026-02-01,81.0,x\n", 1, "expected exactly ['date', 'value']"),
    "header only": ("date,value\n", None, "no data rows"),
    "wrong frequency": (
        "date,value\n2026-01-01,80.0\n2026-04-01,81.0\n2026-07-01,82.0\n",
        None,
        "wsts_worldwide_sales is monthly",
    ),
    "far future": ("date,value\n2100-12-01,80\n", 2, "period 2100-12-01 cannot have been published yet"),
    "not yet published": ("date,value\n2026-09-01,160\n2026-10-01,170\n", 3, "on 2026-12-08, after today (2026-12-01)"),
    "huge": ("date,value\n2026-08-01,1e308\n", 2, "more than 1000x the largest value"),
    "jump": ("date,value\n2026-08-01,15.2\n", 2, "jump of -89.6% from 2026-07-01 (146.8)"),
    "revision": ("date,value\n2025-12-01,62\n", 2, "revised from 79.6 to 62 (-22.1%)"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_rejected_and_store_unchanged(tmp_path: Path, store: LocalStore, case: str) -> None:
    text, line, problem = BAD_FILES[case]
    before = digest_tree(store.root)
    f = _csv(tmp_path, text)
    with pytest.raises(DataValidationError) as exc:
        ingest(store, WSTS, f, REAL_DATA_DIR, MAX, today=TODAY)
    assert problem in str(exc.value)
    assert exc.value.line == line
    assert str(f) in str(exc.value)
    assert digest_tree(store.root) == before


def test_empty_and_huge_files(tmp_path: Path, store: LocalStore) -> None:
    before = digest_tree(store.root)
    with pytest.raises(DataValidationError, match="file is empty"):
        ingest(store, WSTS, _csv(tmp_path, ""), REAL_DATA_DIR, MAX)
    huge = _csv(tmp_path, "date,value\n" + "2026-02-01,81.0\n" * 20_000, "huge.csv")
    with pytest.raises(DataValidationError, match="over the 100,000-byte limit"):
        ingest(store, WSTS, huge, REAL_DATA_DIR, MAX)
    with pytest.raises(DataValidationError, match="file not found"):
        ingest(store, WSTS, tmp_path / "nope.csv", REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before


def test_derived_series_cannot_be_ingested(tmp_path: Path, store: LocalStore) -> None:
    with pytest.raises(DataValidationError, match="ingest those"):
        ingest(store, "capex_hyperscalers_total", _csv(tmp_path, "date,value\n2026-04-01,1\n"), REAL_DATA_DIR, MAX)


# ------------------------------------------------------------------------------------------ questioning


def test_publication_lag_decides_what_can_already_exist(tmp_path: Path) -> None:
    s = LocalStore(tmp_path / "store")
    october = _csv(tmp_path, "date,value\n2026-10-01,150\n")
    with pytest.raises(DataValidationError, match="on 2026-12-08"):
        ingest(s, WSTS, october, REAL_DATA_DIR, MAX, today=date(2026, 12, 7))
    # not before October's release date; on it, the value is fine (but August/September are missing: gaps)
    assert ingest(s, WSTS, october, REAL_DATA_DIR, MAX, today=date(2026, 12, 8)).added == 1
    # a days-1-10 flash of December is public on the 11th, not the 10th
    flash = _csv(tmp_path, "date,value\n2026-12-01,16000\n", "flash.csv")
    sid = "korea_semiconductor_exports_flash_d10"
    with pytest.raises(DataValidationError, match="on 2026-12-11"):
        ingest(s, sid, flash, REAL_DATA_DIR, MAX, today=date(2026, 12, 10))
    assert ingest(s, sid, flash, REAL_DATA_DIR, MAX, today=date(2026, 12, 11)).added == 1


def test_magnitude_bound_has_no_override(tmp_path: Path, store: LocalStore) -> None:
    before = digest_tree(store.root)
    with pytest.raises(DataValidationError, match="check the unit"):
        ingest(store, WSTS, _csv(tmp_path, "date,value\n2026-08-01,1e308\n"), REAL_DATA_DIR, MAX,
               accept_outliers=True, accept_revisions=True)
    assert digest_tree(store.root) == before


def test_accept_flags_let_a_checked_figure_through(tmp_path: Path, store: LocalStore) -> None:
    jump = _csv(tmp_path, "date,value\n2026-08-01,15.2\n", "jump.csv")
    with pytest.raises(DataValidationError, match="--accept-outliers"):
        ingest(store, WSTS, jump, REAL_DATA_DIR, MAX, today=TODAY, accept_revisions=True)
    assert ingest(store, WSTS, jump, REAL_DATA_DIR, MAX, today=TODAY, accept_outliers=True).added == 1
    revision = _csv(tmp_path, "date,value\n2025-12-01,62\n", "revision.csv")
    with pytest.raises(DataValidationError, match="--accept-revisions"):
        ingest(store, WSTS, revision, REAL_DATA_DIR, MAX, today=TODAY, accept_outliers=True)
    assert ingest(store, WSTS, revision, REAL_DATA_DIR, MAX, today=TODAY, accept_revisions=True).revised == 1


def test_jump_limits_are_per_series(tmp_path: Path) -> None:
    """+60% in a month is beyond WSTS's limit (floor +50%) but within TSMC's (6 x its MAD of log changes)."""
    s = LocalStore(tmp_path / "store")
    with pytest.raises(DataValidationError, match=r"robust limit of \+50%/-33%"):
        ingest(s, WSTS, _csv(tmp_path, "date,value\n2026-08-01,234.9\n"), REAL_DATA_DIR, MAX, today=TODAY)
    report = ingest(s, "tsmc_revenue", _csv(tmp_path, "date,value\n2026-10-01,818976\n", "t.csv"), REAL_DATA_DIR,
                    MAX, today=TODAY)
    assert report.added == 1
    # a sign change is judged on differences: SK hynix operating profit from +60.5 to -50 in one quarter
    with pytest.raises(DataValidationError, match=r"jump of -110\.543"):
        ingest(s, "skhynix_operating_profit", _csv(tmp_path, "date,value\n2026-07-01,-50\n", "h.csv"),
               REAL_DATA_DIR, MAX, today=TODAY)


def test_ingest_adds_and_revises_keeping_old_values(tmp_path: Path, store: LocalStore) -> None:
    # 2025-12 exists in the snapshot (79.6 after its revision): a revision; 2026-08 is new (the LOW print
    # of the snapshot does not count); 2026-01 (seeded 80.1) unchanged
    f = _csv(tmp_path, "date,value\n2025-12-01,79.2\n2026-01-01,80.1\n2026-08-01,155.0\n")
    report = ingest(store, WSTS, f, REAL_DATA_DIR, MAX, today=TODAY)
    assert (report.added, report.revised, report.unchanged) == (1, 1, 1)
    rev = store.revisions(WSTS)
    assert rev.filter(pl.col("ds") == date(2025, 12, 1)).select("ds", "y", "previous_y").row(0) == (
        date(2025, 12, 1), 79.2, 79.6)
    panel = load_panel([WSTS], data_dir=REAL_DATA_DIR, store=store)
    tail = dict(zip(panel["ds"].to_list(), panel["y"].to_list(), strict=True))
    assert tail[date(2025, 12, 1)] == 79.2 and tail[date(2026, 8, 1)] == 155.0
    # the immutable snapshot still holds the values as first shipped
    assert "2025-12-01,78.9" in (REAL_DATA_DIR / "raw/market/wsts_monthly_sales_worldwide.csv").read_text()


def test_ingested_parts_flow_into_derived_total(tmp_path: Path) -> None:
    """Synthetic calendar-2026Q3 capex for the four calendar-quarter companies completes the quarter."""
    s = LocalStore(tmp_path / "store")
    synthetic = {"capex_microsoft": 37_000, "capex_alphabet": 46_000, "capex_amazon": 55_000, "capex_meta": 31_000}
    for sid, value in synthetic.items():
        ingest(s, sid, _csv(tmp_path, f"date,value\n2026-07-01,{value}\n", f"{sid}.csv"), REAL_DATA_DIR, MAX,
               today=TODAY)
    panel = load_panel(["capex_hyperscalers_total"], data_dir=REAL_DATA_DIR, store=s)
    # Oracle's FY2027Q1 (Jun-Aug 2026, 28,500 SECONDARY/ROUNDED) is in the snapshot for calendar Q3 2026.
    row = panel.filter(pl.col("ds") == date(2026, 7, 1))
    assert row["y"].item() == sum(synthetic.values()) + 28_500


def test_concurrent_ingests_of_one_series_lose_no_update(tmp_path: Path, real_panel: pl.DataFrame) -> None:
    s = LocalStore(tmp_path / "store")
    ws = real_panel.filter(pl.col("unique_id") == WSTS)
    known = dict(zip(ws["ds"].to_list(), ws["y"].to_list(), strict=True))
    files = []
    for m in range(1, 9):  # synthetic: each 2026 month 1% above the snapshot, August new
        value = round(known[date(2026, m, 1)] * 1.01, 2) if m < 8 else 150.0
        files.append(_csv(tmp_path, f"date,value\n2026-{m:02d}-01,{value}\n", f"m{m}.csv"))
    errors: list[BaseException] = []

    def run(f: Path) -> None:
        try:
            ingest(s, WSTS, f, REAL_DATA_DIR, MAX, today=TODAY)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert s.latest(WSTS).height == 8


# ------------------------------------------------------------------------------------------ disk faults


def test_read_only_store_gives_clear_error(
    tmp_path: Path, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only state dir (EROFS, simulated here; the real one is below) loses nothing."""
    before = digest_tree(store.root)

    def read_only(path: Path) -> tuple[int, Path]:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("pipelines.store._open_temp", read_only)
    with pytest.raises(StoreError, match="Read-only file system; nothing was changed"):
        ingest(store, WSTS, _csv(tmp_path, "date,value\n2026-03-01,99\n"), REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before


@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"),
     pl.exceptions.ComputeError("parquet: File out of specification: underlying IO error: "
                                "No space left on device (os error 28)")],
    ids=["OSError", "polars ComputeError"],
)
def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, store: LocalStore, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """A disk that fills mid-write loses nothing and leaves no temp file, however the error is raised."""
    before = digest_tree(store.root)

    def full_disk(self: pl.DataFrame, *args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    with pytest.raises(StoreError, match="No space left on device; nothing was changed"):
        ingest(store, WSTS, _csv(tmp_path, "date,value\n2026-03-01,99\n"), REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before
    assert not list(store.root.glob("*.tmp"))


def test_store_files_get_ordinary_permissions(tmp_path: Path, store: LocalStore) -> None:
    umask = os.umask(0)
    os.umask(umask)
    assert store.path(WSTS).stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs mounted at the state dir the CLI uses (needs root; skipped otherwise)."""
    mnt = tmp_path / "state"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) on this machine")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); needs root/CAP_SYS_ADMIN")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> None:
    """Write until the file system is full (ENOSPC)."""
    with (directory / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == 28


def test_cli_ingest_on_a_real_full_disk_exits_2_and_writes_nothing(tmp_path: Path, small_fs: Path) -> None:
    store_dir = get_data_settings().store_dir
    assert store_dir.parent == small_fs
    runner = CliRunner()
    seed = _csv(tmp_path, "date,value\n2026-08-01,155.0\n", "seed.csv")
    assert runner.invoke(app, ["data", "ingest", str(seed), "--series", WSTS]).exit_code == 0
    _fill(small_fs)
    before = digest_tree(store_dir)
    more = _csv(tmp_path, "date,value\n2026-09-01,160.0\n", "more.csv")
    r = runner.invoke(app, ["data", "ingest", str(more), "--series", WSTS])
    assert r.exit_code == 2, r.output
    assert "No space left on device; nothing was changed" in " ".join(r.output.split())
    assert digest_tree(store_dir) == before
    assert not [p for p in store_dir.iterdir() if p.name.endswith(".tmp")]


def test_cli_ingest_on_a_real_read_only_disk(tmp_path: Path, small_fs: Path) -> None:
    store_dir = get_data_settings().store_dir
    runner = CliRunner()
    seed = _csv(tmp_path, "date,value\n2026-08-01,155.0\n", "seed.csv")
    assert runner.invoke(app, ["data", "ingest", str(seed), "--series", WSTS]).exit_code == 0
    before = digest_tree(store_dir)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    r = runner.invoke(app, ["data", "ingest", str(_csv(tmp_path, "date,value\n2026-09-01,160\n")), "--series", WSTS])
    assert r.exit_code == 2, r.output
    assert "Read-only file system; nothing was changed" in " ".join(r.output.split())
    assert digest_tree(store_dir) == before


# ------------------------------------------------------------------------------------------ CLI


def test_cli_ingest_bad_file_exits_nonzero_with_message(tmp_path: Path) -> None:
    f = _csv(tmp_path, "date,value\n2026-02-01,81.0\n2026-03-01,n/a\n")
    result = CliRunner().invoke(app, ["data", "ingest", str(f), "--series", WSTS])
    assert result.exit_code == 2
    assert "line 3" in result.output and "'n/a' is not a number" in result.output
    assert not get_data_settings().store_dir.exists() or not list(get_data_settings().store_dir.glob("*.parquet"))


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ("date,value\n2100-12-01,80\n", [], "line 2: period 2100-12-01 cannot have been published yet"),
        ("date,value\n2026-08-01,1e308\n", ["--accept-outliers", "--accept-revisions"], "check the unit"),
        ("date,value\n2026-08-01,15.2\n", [], "pass --accept-outliers"),
        ("date,value\n2025-12-01,62\n", [], "pass --accept-revisions"),
    ],
    ids=["year 2100", "1e308", "jump", "revision"],
)
def test_cli_refusals_exit_2_and_write_nothing(tmp_path: Path, text: str, flags: list[str], message: str) -> None:
    f = _csv(tmp_path, text)
    r = CliRunner().invoke(app, ["data", "ingest", str(f), "--series", WSTS, *flags])
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    store_dir = get_data_settings().store_dir
    assert not store_dir.exists() or not list(store_dir.glob("*.parquet"))


def test_cli_accept_revisions_records_a_later_print(tmp_path: Path) -> None:
    f = _csv(tmp_path, "date,value\n2025-12-01,62\n")
    r = CliRunner().invoke(app, ["data", "ingest", str(f), "--series", WSTS, "--accept-revisions"])
    assert r.exit_code == 0, r.output
    assert "1 revised" in r.output


def test_cli_ingest_then_show(tmp_path: Path) -> None:
    f = _csv(tmp_path, "date,value\n2026-08-01,155.2\n")
    r = CliRunner().invoke(app, ["data", "ingest", str(f), "--series", WSTS])
    assert r.exit_code == 0, r.output
    assert "1 new" in r.output
    r = CliRunner().invoke(app, ["data", "show", WSTS, "--json"])
    assert r.exit_code == 0
    assert '"last": "2026-08-01"' in r.output and '"vintages": "true"' in r.output


def test_cli_list_shows_all_series_with_new_coverage() -> None:
    r = CliRunner().invoke(app, ["data", "list", "--json"])
    assert r.exit_code == 0
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert len(rows) >= 38
    assert rows[WSTS]["last"] == "2026-07-01" and rows[WSTS]["gaps"] == ["2025-08-01"]
    assert rows["korea_semiconductor_exports"]["first"] == "2013-01-01"
    assert rows["korea_semiconductor_exports"]["last"] == "2026-08-01"
    assert rows["tsmc_revenue"]["flagged_observations"] == 2
    r = CliRunner().invoke(app, ["data", "list"])
    assert r.exit_code == 0 and f"chipcast series ({len(rows)})" in r.output and "2026-07" in r.output


def test_year_zero_is_refused_not_stored(tmp_path: Path, store: LocalStore) -> None:
    before = digest_tree(store.root)
    for text in ("date,value\n0000-01-01,1\n", "date,value\n0000-01-01,lots\n"):
        with pytest.raises(DataValidationError, match=r"outside the years 1900\.\.2100"):
            ingest(store, WSTS, _csv(tmp_path, text), REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before


def test_a_damaged_store_file_is_a_clear_error_naming_it() -> None:
    """A store file that is not parquet used to crash every data command with a polars traceback."""
    store = LocalStore(get_data_settings().store_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    store.path("tsmc_revenue").write_bytes(b"this is not parquet" * 10)
    with pytest.raises(StoreError, match=r"tsmc_revenue\.parquet cannot be read .*nothing was changed"):
        load_panel(data_dir=REAL_DATA_DIR, store=store)
    for args in (["data", "list"], ["data", "show", "tsmc_revenue"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "cannot be read" in " ".join(r.output.split()) and "Traceback" not in r.output


# ------------------------------------------------------------------------------------------ fiscal periods

NVIDIA_DC = "nvidia_datacenter_revenue"


def test_fiscal_period_series_are_exactly_those_whose_raw_rows_carry_their_own_period_end() -> None:
    """The catalog flag decides whether an ingested file must carry period_end; the raw data decides the truth."""
    from pipelines.catalog import CATALOG
    from pipelines.sources import load_snapshot_series

    for sid, spec in CATALOG.items():
        if spec.is_derived:
            continue
        snap = load_snapshot_series(spec, REAL_DATA_DIR)
        off_calendar = snap.filter(pl.col("period_end") != spec.period_end_expr()).height > 0
        assert spec.fiscal_periods == off_calendar, sid


def test_a_fiscal_quarter_is_dated_from_its_own_end_not_the_calendar_quarters(tmp_path: Path) -> None:
    """NVIDIA's quarter filed under 2026-07-01 ends on 2026-10-25: counting the lag from 2026-09-30 let a figure
    in weeks before it could exist (look-ahead); Oracle's quarter ending 2026-11-30 (filed under 2026-10-01) was
    refused until five weeks after 2026-12-31. Values are synthetic (tests only)."""
    s = LocalStore(tmp_path / "store")
    no_end = _csv(tmp_path, "date,value\n2026-07-01,95000\n", "nvda_no_end.csv")
    with pytest.raises(DataValidationError, match=r"reports fiscal periods .* add a third column period_end") as exc:
        ingest(s, NVIDIA_DC, no_end, REAL_DATA_DIR, MAX, today=date(2026, 11, 30))
    assert exc.value.line == 1
    nvda = _csv(tmp_path, "date,value,period_end\n2026-07-01,95000,2026-10-25\n", "nvda.csv")
    # the calendar rule said 2026-09-30 + 28 days = 2026-10-28; the fiscal end says 2026-11-22
    with pytest.raises(DataValidationError, match="on 2026-11-22, after today"):
        ingest(s, NVIDIA_DC, nvda, REAL_DATA_DIR, MAX, today=date(2026, 11, 10))
    assert not s.path(NVIDIA_DC).exists()
    assert ingest(s, NVIDIA_DC, nvda, REAL_DATA_DIR, MAX, today=date(2026, 11, 22)).added == 1
    prints = load_panel([NVIDIA_DC], data_dir=REAL_DATA_DIR, store=s, vintages=True)
    row = prints.filter(pl.col("ds") == date(2026, 7, 1)).row(0, named=True)
    assert (row["period_end"], row["published"]) == (date(2026, 10, 25), date(2026, 11, 22))
    oracle = _csv(tmp_path, "date,value,period_end\n2026-10-01,30000,2026-11-30\n", "orcl.csv")
    assert ingest(s, "capex_oracle", oracle, REAL_DATA_DIR, MAX, today=date(2027, 1, 4)).added == 1


FISCAL_BAD = {
    "not a date": (NVIDIA_DC, "2026-07-01,95000,late Oct", "period_end 'late Oct' is not an ISO"),
    "before the dated period": (NVIDIA_DC, "2026-07-01,95000,2026-06-28",
                                "cannot end the quarterly period dated 2026-07-01: its end lies after 2026-07-01, "
                                "by 2026-12-31"),
    "the period's first day": (NVIDIA_DC, "2026-07-01,95000,2026-07-01", "cannot end the quarterly period"),
    "a year off": (NVIDIA_DC, "2026-07-01,95000,2027-10-25", "cannot end the quarterly period"),
    "blank": (NVIDIA_DC, "2026-07-01,95000,", "period_end '' is not an ISO"),
    # within the broad range, but months off the company's own calendar: dated ~2.5 months early
    "off the fiscal calendar": (NVIDIA_DC, "2026-07-01,95000,2026-08-15",
                                "is 72 days from 2026-10-26, one period after the previous period's end"),
    "a quarter late": ("capex_oracle", "2026-10-01,30000,2026-12-31",
                       "is 31 days from 2026-11-30, one period after the previous period's end"),
    "a revision that moves the end": (NVIDIA_DC, "2026-04-01,89023,2026-09-01",
                                      "is 37 days from 2026-07-26, the end already recorded for this period"),
}


@pytest.mark.parametrize("case", list(FISCAL_BAD))
def test_a_bad_fiscal_period_end_is_refused_with_its_line(tmp_path: Path, case: str) -> None:
    s = LocalStore(tmp_path / "store")
    series, row, problem = FISCAL_BAD[case]
    with pytest.raises(DataValidationError, match=problem) as exc:
        ingest(s, series, _csv(tmp_path, f"date,value,period_end\n{row}\n"), REAL_DATA_DIR, MAX,
               today=date(2027, 6, 1))
    assert exc.value.line == 2 and not s.path(series).exists()
    # a calendar series takes no period_end column
    with pytest.raises(DataValidationError, match=r"expected exactly \['date', 'value'\]"):
        ingest(s, WSTS, _csv(tmp_path, "date,value,period_end\n2026-08-01,150,2026-08-31\n", "w.csv"),
               REAL_DATA_DIR, MAX, today=TODAY)


def test_a_fiscal_row_ingested_without_a_period_end_is_never_dated_before_its_ingestion(tmp_path: Path) -> None:
    """Store files from before the period_end column: a NVIDIA quarter there has no fiscal end, and its calendar
    quarter's end + lag (2026-10-28) is weeks before the real release; it counts from its ingestion day."""
    s = LocalStore(tmp_path / "store")
    s.root.mkdir(parents=True)
    pl.DataFrame({"ds": [date(2026, 4, 1), date(2026, 7, 1)], "y": [89100.0, 95000.0], "previous_y": [89023.0, None],
                  "ingested_at": [datetime(2026, 11, 20, tzinfo=UTC)] * 2, "source": ["old.csv"] * 2},
                 schema={"ds": pl.Date, "y": pl.Float64, "previous_y": pl.Float64,
                         "ingested_at": pl.Datetime("us", "UTC"), "source": pl.String}).write_parquet(
        s.path(NVIDIA_DC))
    prints = load_panel([NVIDIA_DC], data_dir=REAL_DATA_DIR, store=s, vintages=True)
    assert prints.filter(pl.col("ds") == date(2026, 7, 1))["published"].to_list() == [date(2026, 11, 20)]
    # a revision of a snapshot quarter shows the snapshot's fiscal end, not the calendar quarter's
    revised = prints.filter(pl.col("ds") == date(2026, 4, 1), pl.col("y") == 89100.0).row(0, named=True)
    assert (revised["period_end"], revised["published"]) == (date(2026, 7, 26), date(2026, 11, 20))


def test_store_files_written_before_period_end_existed_still_read(tmp_path: Path) -> None:
    s = LocalStore(tmp_path / "store")
    s.root.mkdir(parents=True)
    old = pl.DataFrame({"ds": [date(2026, 8, 1)], "y": [150.0], "previous_y": [None],
                        "ingested_at": [None], "source": ["old.csv"]},
                       schema={"ds": pl.Date, "y": pl.Float64, "previous_y": pl.Float64,
                               "ingested_at": pl.Datetime("us", "UTC"), "source": pl.String})
    old.with_columns(pl.lit(datetime(2026, 10, 9, tzinfo=UTC)).alias("ingested_at")).write_parquet(s.path(WSTS))
    assert s.versions(WSTS)["period_end"].to_list() == [None]
    prints = load_panel([WSTS], data_dir=REAL_DATA_DIR, store=s, vintages=True)
    assert prints.filter(pl.col("ds") == date(2026, 8, 1), pl.col("y") == 150.0)["period_end"].to_list() == [
        date(2026, 8, 31)]
    report = ingest(s, WSTS, _csv(tmp_path, "date,value\n2026-09-01,160\n"), REAL_DATA_DIR, MAX, today=TODAY)
    assert report.added == 1 and s.versions(WSTS).height == 2


def test_data_show_says_which_columns_an_ingest_file_takes() -> None:
    for sid, columns in ((NVIDIA_DC, "date,value,period_end"), (WSTS, "date,value"),
                         ("capex_hyperscalers_total", "derived: ingest its parts")):
        r = CliRunner().invoke(app, ["data", "show", sid])
        assert r.exit_code == 0, r.output
        line = next(x for x in r.output.splitlines() if x.startswith("ingest file"))
        assert columns in line and (sid != WSTS or "period_end" not in line)


def test_a_wrong_fiscal_end_already_stored_can_be_corrected_and_blocks_nothing_after(tmp_path: Path) -> None:
    """A store written before the calendar check held 2026-07-01 as the end of the quarter dated 2026-07-01 (the
    period's first day). Correcting the end alone (same value) is recorded, and the next quarter then fits.
    Values are synthetic (tests only)."""
    s = LocalStore(tmp_path / "store")
    s.root.mkdir(parents=True)
    pl.DataFrame({"ds": [date(2026, 7, 1)], "y": [95000.0], "previous_y": [None],
                  "ingested_at": [datetime(2026, 11, 25, tzinfo=UTC)], "source": ["old.csv"],
                  "period_end": [date(2026, 7, 1)]},
                 schema={"ds": pl.Date, "y": pl.Float64, "previous_y": pl.Float64,
                         "ingested_at": pl.Datetime("us", "UTC"), "source": pl.String,
                         "period_end": pl.Date}).write_parquet(s.path(NVIDIA_DC))
    fix = _csv(tmp_path, "date,value,period_end\n2026-07-01,95000,2026-10-25\n", "fix.csv")
    report = ingest(s, NVIDIA_DC, fix, REAL_DATA_DIR, MAX, today=date(2026, 12, 1))
    assert (report.added, report.revised, report.unchanged) == (0, 1, 0)
    assert s.latest(NVIDIA_DC)["period_end"].to_list() == [date(2026, 10, 25)]
    nxt = _csv(tmp_path, "date,value,period_end\n2026-10-01,99000,2027-01-31\n", "next.csv")
    assert ingest(s, NVIDIA_DC, nxt, REAL_DATA_DIR, MAX, today=date(2027, 3, 1)).added == 1
