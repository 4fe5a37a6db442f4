"""Bad input gets a precise error and leaves every stored series byte-for-byte unchanged."""

from __future__ import annotations

import threading
from datetime import date
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


def _csv(tmp_path: Path, text: str, name: str = "new.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "store")
    # a first good ingest, so "unchanged" means an existing file must keep its bytes
    ingest(s, "wsts_worldwide_sales", _csv(tmp_path, "date,value\n2026-01-01,80.1\n", "seed.csv"), REAL_DATA_DIR, MAX)
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
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_rejected_and_store_unchanged(tmp_path: Path, store: LocalStore, case: str) -> None:
    text, line, problem = BAD_FILES[case]
    before = digest_tree(store.root)
    f = _csv(tmp_path, text)
    with pytest.raises(DataValidationError) as exc:
        ingest(store, "wsts_worldwide_sales", f, REAL_DATA_DIR, MAX)
    assert problem in str(exc.value)
    assert exc.value.line == line
    assert str(f) in str(exc.value)
    assert digest_tree(store.root) == before


def test_empty_and_huge_files(tmp_path: Path, store: LocalStore) -> None:
    before = digest_tree(store.root)
    with pytest.raises(DataValidationError, match="file is empty"):
        ingest(store, "wsts_worldwide_sales", _csv(tmp_path, ""), REAL_DATA_DIR, MAX)
    huge = _csv(tmp_path, "date,value\n" + "2026-02-01,81.0\n" * 20_000, "huge.csv")
    with pytest.raises(DataValidationError, match="over the 100,000-byte limit"):
        ingest(store, "wsts_worldwide_sales", huge, REAL_DATA_DIR, MAX)
    with pytest.raises(DataValidationError, match="file not found"):
        ingest(store, "wsts_worldwide_sales", tmp_path / "nope.csv", REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before


def test_derived_series_cannot_be_ingested(tmp_path: Path, store: LocalStore) -> None:
    with pytest.raises(DataValidationError, match="ingest those"):
        ingest(store, "capex_hyperscalers_total", _csv(tmp_path, "date,value\n2026-04-01,1\n"), REAL_DATA_DIR, MAX)


def test_ingest_adds_and_revises_keeping_old_values(tmp_path: Path, store: LocalStore) -> None:
    # 2025-12 exists in the snapshot (78.9): a revision; 2026-02 is new; 2026-01 (seeded 80.1) unchanged
    f = _csv(tmp_path, "date,value\n2025-12-01,79.2\n2026-01-01,80.1\n2026-02-01,81.5\n")
    report = ingest(store, "wsts_worldwide_sales", f, REAL_DATA_DIR, MAX)
    assert (report.added, report.revised, report.unchanged) == (1, 1, 1)
    rev = store.revisions("wsts_worldwide_sales")
    assert rev.select("ds", "y", "previous_y").row(0) == (date(2025, 12, 1), 79.2, 78.9)
    panel = load_panel(["wsts_worldwide_sales"], data_dir=REAL_DATA_DIR, store=store)
    tail = dict(zip(panel["ds"].to_list(), panel["y"].to_list(), strict=True))
    assert tail[date(2025, 12, 1)] == 79.2 and tail[date(2026, 2, 1)] == 81.5
    # the immutable snapshot still holds the value as first shipped
    assert "2025-12-01,78.9" in (REAL_DATA_DIR / "raw/market/wsts_monthly_sales_worldwide.csv").read_text()


def test_ingested_parts_flow_into_derived_total(tmp_path: Path) -> None:
    s = LocalStore(tmp_path / "store")
    ids = ["capex_microsoft", "capex_alphabet", "capex_amazon", "capex_meta"]
    for sid in ids:
        ingest(s, sid, _csv(tmp_path, "date,value\n2026-04-01,1000\n", f"{sid}.csv"), REAL_DATA_DIR, MAX)
    panel = load_panel(["capex_hyperscalers_total"], data_dir=REAL_DATA_DIR, store=s)
    # Oracle's calendar Q2 2026 is in the snapshot (Mar-May 2026), so the quarter is now complete.
    row = panel.filter(pl.col("ds") == date(2026, 4, 1))
    assert row["y"].item() == 4 * 1000 + 16493


def test_read_only_store_gives_clear_error(
    tmp_path: Path, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only state dir (EROFS; simulated, since root ignores permission bits) loses nothing."""
    before = digest_tree(store.root)

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("pipelines.store.tempfile.mkstemp", read_only)
    with pytest.raises(StoreError, match="Read-only file system; nothing was changed"):
        ingest(store, "wsts_worldwide_sales", _csv(tmp_path, "date,value\n2026-03-01,1\n"), REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before


def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills mid-write (simulated ENOSPC) loses nothing and leaves no temp file."""
    before = digest_tree(store.root)

    def full_disk(self: pl.DataFrame, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    with pytest.raises(StoreError, match="No space left on device"):
        ingest(store, "wsts_worldwide_sales", _csv(tmp_path, "date,value\n2026-03-01,1\n"), REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before
    assert not list(store.root.glob("*.tmp"))


def test_concurrent_ingests_of_one_series_lose_no_update(tmp_path: Path) -> None:
    s = LocalStore(tmp_path / "store")
    files = [_csv(tmp_path, f"date,value\n2026-{m:02d}-01,{80 + m}\n", f"m{m}.csv") for m in range(1, 9)]
    errors: list[BaseException] = []

    def run(f: Path) -> None:
        try:
            ingest(s, "wsts_worldwide_sales", f, REAL_DATA_DIR, MAX)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert s.latest("wsts_worldwide_sales").height == 8


def test_cli_ingest_bad_file_exits_nonzero_with_message(tmp_path: Path) -> None:
    f = _csv(tmp_path, "date,value\n2026-02-01,81.0\n2026-03-01,n/a\n")
    result = CliRunner().invoke(app, ["data", "ingest", str(f), "--series", "wsts_worldwide_sales"])
    assert result.exit_code == 2
    assert "line 3" in result.output and "'n/a' is not a number" in result.output
    assert not get_data_settings().store_dir.exists() or not list(get_data_settings().store_dir.glob("*.parquet"))


def test_cli_ingest_then_show(tmp_path: Path) -> None:
    f = _csv(tmp_path, "date,value\n2026-01-01,80.5\n")
    r = CliRunner().invoke(app, ["data", "ingest", str(f), "--series", "wsts_worldwide_sales"])
    assert r.exit_code == 0, r.output
    assert "1 new" in r.output
    r = CliRunner().invoke(app, ["data", "show", "wsts_worldwide_sales", "--json"])
    assert r.exit_code == 0
    assert '"last": "2026-01-01"' in r.output


def test_cli_list_shows_all_series() -> None:
    r = CliRunner().invoke(app, ["data", "list", "--json"])
    assert r.exit_code == 0
    assert r.output.count('"id"') >= 20


def test_year_zero_is_refused_not_stored(tmp_path: Path, store: LocalStore) -> None:
    before = digest_tree(store.root)
    for text in ("date,value\n0000-01-01,1\n", "date,value\n0000-01-01,lots\n"):
        with pytest.raises(DataValidationError, match=r"outside the years 1900\.\.2100"):
            ingest(store, "wsts_worldwide_sales", _csv(tmp_path, text), REAL_DATA_DIR, MAX)
    assert digest_tree(store.root) == before
