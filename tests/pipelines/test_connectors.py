"""FRED / EDGAR connectors against fixtures in the real APIs' JSON shape (no network).

The fixtures hold real values copied from the shipped snapshot (see tests/fixtures/connectors/README.md),
so the EDGAR test is a genuine cross-check: YTD differencing must reproduce the shipped discrete quarters.
Payloads built inline below are synthetic and named as such.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from pipelines.connectors import (
    CIKS,
    EDGAR_URL,
    FRED_URL,
    ConnectorError,
    fetch_edgar_companyfacts,
    fetch_fred_observations,
    fetch_fred_result,
    parse_companyfacts_capex,
    parse_fred_observations,
    parse_fred_result,
    write_date_value_csv,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "connectors"
FRED_FIXTURE = FIXTURES / "fred_IPG3344S_observations.json"
FRED_ERROR_FIXTURE = FIXTURES / "fred_error_400.json"
EDGAR_FIXTURE = FIXTURES / "edgar_companyfacts_CIK0001341439.json"
FRED_SNAPSHOT = ROOT / "data" / "raw" / "market" / "fred_IPG3344S.csv"
SHIPPED_QUARTERS = ROOT / "data" / "raw" / "capex" / "hyperscaler_capex_quarterly.csv"

API_KEY = "abcdef0123456789abcdef0123456789"  # synthetic, FRED's 32-hex-char key format
USER_AGENT = "chipcast tests tests@example.com"
FRED_MISSING_DATE = date(2025, 3, 1)  # the "." format case in the FRED fixture

Handler = Callable[[httpx.Request], httpx.Response]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], httpx.Client]]:
    """Clients backed by a MockTransport handler; closed after the test."""
    clients: list[httpx.Client] = []

    def make(handler: Handler) -> httpx.Client:
        client = httpx.Client(transport=httpx.MockTransport(handler))
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def recording(response: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return handler, seen


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.url}")


# ----------------------------------------------------------------------------------------------- FRED


def test_fred_parse_matches_snapshot_and_reports_missing() -> None:
    result = parse_fred_result(load(FRED_FIXTURE))
    df = result.df
    assert df.schema == pl.Schema({"ds": pl.Date(), "y": pl.Float64()})
    assert df["ds"].is_sorted()
    assert df.height == 23  # 24 observations, one "."
    assert result.missing == [FRED_MISSING_DATE]
    assert FRED_MISSING_DATE not in df["ds"].to_list()  # dropped, not filled

    snapshot = pl.read_csv(FRED_SNAPSHOT, schema={"date": pl.Date(), "value": pl.Float64()})
    joined = df.join(snapshot, left_on="ds", right_on="date", how="left")
    assert joined["value"].null_count() == 0
    assert (joined["y"] == joined["value"]).all()
    assert df.row(-1) == (date(2026, 5, 1), 188.0105)

    assert parse_fred_observations(load(FRED_FIXTURE)).equals(df)


def test_fred_fetch_sends_params_and_parses(serve: Callable[[Handler], httpx.Client]) -> None:
    handler, seen = recording(httpx.Response(200, json=load(FRED_FIXTURE)))
    client = serve(handler)

    df = fetch_fred_observations("IPG3344S", API_KEY, client, start=date(2024, 6, 1))
    assert df.height == 23
    request = seen[0]
    assert request.method == "GET"
    assert str(request.url).startswith(FRED_URL + "?")
    assert dict(request.url.params) == {
        "series_id": "IPG3344S",
        "api_key": API_KEY,
        "file_type": "json",
        "observation_start": "2024-06-01",
    }

    result = fetch_fred_result("IPG3344S", API_KEY, client)
    assert "observation_start" not in seen[1].url.params
    assert result.missing == [FRED_MISSING_DATE]


def test_fred_non_200_names_status_series_and_fred_message_but_not_key(
    serve: Callable[[Handler], httpx.Client],
) -> None:
    client = serve(lambda r: httpx.Response(400, json=load(FRED_ERROR_FIXTURE)))
    with pytest.raises(ConnectorError) as exc_info:
        fetch_fred_observations("IPG3344S", API_KEY, client)
    msg = str(exc_info.value)
    assert "HTTP 400" in msg
    assert "IPG3344S" in msg
    assert "api_key is not registered" in msg  # FRED's error_message is passed on
    assert API_KEY not in msg


def test_fred_non_200_without_json_body(serve: Callable[[Handler], httpx.Client]) -> None:
    client = serve(lambda r: httpx.Response(503, text="<html>Service Unavailable</html>"))
    with pytest.raises(ConnectorError, match=r"FRED series IPG3344S: HTTP 503$"):
        fetch_fred_observations("IPG3344S", API_KEY, client)


def test_fred_transport_error_never_leaks_key(serve: Callable[[Handler], httpx.Client]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with pytest.raises(ConnectorError) as exc_info:
        fetch_fred_observations("IPG3344S", API_KEY, serve(handler))
    assert "IPG3344S" in str(exc_info.value)
    assert "ConnectError" in str(exc_info.value)
    assert API_KEY not in str(exc_info.value)
    assert exc_info.value.__cause__ is None  # the httpx error (with the URL) is not chained


@pytest.mark.parametrize("key", ["", "   "])
def test_fred_empty_key_fails_before_any_request(key: str, serve: Callable[[Handler], httpx.Client]) -> None:
    with pytest.raises(ConnectorError, match="no API key"):
        fetch_fred_observations("IPG3344S", key, serve(never_called))


def _fred_with(observations: Any) -> dict[str, Any]:
    payload = load(FRED_FIXTURE)
    payload["observations"] = observations
    return payload


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "expected a JSON object"),
        ({"count": 0}, "no 'observations' list"),
        (_fred_with([{"date": "2025-01-01"}]), "lacks string 'date'/'value'"),
        (_fred_with([{"date": "2025-01-01", "value": 1.5}]), "lacks string 'date'/'value'"),
        (_fred_with([{"date": "01/2025", "value": "1.5"}]), "bad date"),
        (_fred_with([{"date": "2025-01-01", "value": "n/a"}]), "non-numeric value 'n/a'"),
        (
            _fred_with([{"date": "2025-01-01", "value": "1"}, {"date": "2025-01-01", "value": "."}]),
            "2025-01-01 appears more than once",
        ),
    ],
)
def test_fred_malformed_payload(payload: Any, problem: str) -> None:
    with pytest.raises(ConnectorError, match=problem):
        parse_fred_observations(payload)


def test_fred_malformed_response_names_series(serve: Callable[[Handler], httpx.Client]) -> None:
    client = serve(lambda r: httpx.Response(200, json={"error": "unexpected"}))
    with pytest.raises(ConnectorError, match="FRED series IPG3344S: malformed payload"):
        fetch_fred_observations("IPG3344S", API_KEY, client)
    client = serve(lambda r: httpx.Response(200, text="not json"))
    with pytest.raises(ConnectorError, match="FRED series IPG3344S: response is not JSON"):
        fetch_fred_observations("IPG3344S", API_KEY, client)


# ---------------------------------------------------------------------------------------------- EDGAR

ORCL_PERIOD_ENDS = [
    date(2023, 8, 31),
    date(2023, 11, 30),
    date(2024, 2, 29),
    date(2024, 5, 31),
    date(2024, 8, 31),
    date(2024, 11, 30),
    date(2025, 2, 28),
    date(2025, 5, 31),
    date(2025, 8, 31),
    date(2025, 11, 30),
    date(2026, 2, 28),
]


def test_edgar_fetch_sends_user_agent(serve: Callable[[Handler], httpx.Client]) -> None:
    handler, seen = recording(httpx.Response(200, json=load(EDGAR_FIXTURE)))
    payload = fetch_edgar_companyfacts(CIKS["ORCL"], USER_AGENT, serve(handler))
    assert payload["entityName"] == "ORACLE CORP"
    (request,) = seen
    assert request.headers["User-Agent"] == USER_AGENT
    assert str(request.url) == "https://data.sec.gov/api/xbrl/companyfacts/CIK0001341439.json"
    assert EDGAR_URL.format(cik=CIKS["MSFT"]).endswith("/CIK0000789019.json")


def test_edgar_ytd_differencing_reproduces_shipped_quarters() -> None:
    got = parse_companyfacts_capex(load(EDGAR_FIXTURE))
    assert got.schema == pl.Schema({"ds": pl.Date(), "y": pl.Float64(), "period_end": pl.Date()})
    assert got["period_end"].to_list() == ORCL_PERIOD_ENDS
    assert got["ds"].is_sorted() and got["ds"].n_unique() == got.height

    shipped = pl.read_csv(SHIPPED_QUARTERS, try_parse_dates=True).filter(pl.col("ticker") == "ORCL")
    joined = got.join(shipped, on="period_end", how="left")
    assert joined["value"].null_count() == 0
    assert joined["y"].to_list() == joined["value"].to_list()  # exact, US$ millions
    assert joined["ds"].to_list() == joined["date"].to_list()
    # the fixture's FY2023 annual total has no FY2023 Q3 YTD beside it: no Q4 FY2023 is invented,
    # although the shipped file has one from a source that had the Q3 YTD.
    assert date(2023, 5, 31) in shipped["period_end"].to_list()
    assert date(2023, 5, 31) not in got["period_end"].to_list()


def test_edgar_oracle_quarters_ingest_with_their_fiscal_period_end(tmp_path: Path) -> None:
    """What ``chipcast data fetch-edgar capex_oracle`` writes: the fiscal end rides along, so ingest dates each
    quarter from it (the same values as the shipped file: nothing new, nothing revised)."""
    from pipelines.store import LocalStore, ingest
    from tests.conftest import REAL_DATA_DIR

    got = parse_companyfacts_capex(load(EDGAR_FIXTURE))
    path = tmp_path / "capex_oracle.csv"
    write_date_value_csv(got, path, period_end=True)
    lines = path.read_text().splitlines()
    assert lines[0] == "date,value,period_end" and lines[1].startswith("2023-07-01,") and lines[1].endswith(
        ",2023-08-31")
    report = ingest(LocalStore(tmp_path / "store"), "capex_oracle", path, REAL_DATA_DIR, 100_000,
                    today=date(2026, 12, 1))
    assert (report.added, report.revised, report.unchanged) == (0, 0, got.height)
    with pytest.raises(ValueError, match="missing column"):
        write_date_value_csv(got.drop("period_end"), path, period_end=True)


def test_edgar_oracle_calendar_quarter_mapping() -> None:
    got = parse_companyfacts_capex(load(EDGAR_FIXTURE))
    by_end = dict(zip(got["period_end"].to_list(), got["ds"].to_list(), strict=True))
    assert by_end[date(2025, 8, 31)] == date(2025, 7, 1)  # fiscal Q1 FY2026
    assert by_end[date(2025, 11, 30)] == date(2025, 10, 1)
    assert by_end[date(2026, 2, 28)] == date(2026, 1, 1)
    assert by_end[date(2025, 5, 31)] == date(2025, 4, 1)  # fiscal Q4 FY2025, from the 10-K total
    assert got.filter((pl.col("ds").dt.day() != 1) | ~pl.col("ds").dt.month().is_in([1, 4, 7, 10])).is_empty()


def test_edgar_fixture_refiled_duplicates_collapse_to_one_row() -> None:
    payload = load(EDGAR_FIXTURE)
    facts = payload["facts"]["us-gaap"]["PaymentsToAcquirePropertyPlantAndEquipment"]["units"]["USD"]
    periods = [(f["start"], f["end"]) for f in facts]
    assert len(periods) > len(set(periods))  # the fixture really does re-file periods
    got = parse_companyfacts_capex(payload)
    assert got["period_end"].n_unique() == got.height


def _synthetic_fact(start: str, end: str, val: float, form: str, filed: str) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "val": val,
        "accn": "0000000000-00-000000",
        "fy": 2025,
        "fp": "Q2",
        "form": form,
        "filed": filed,
    }


def _synthetic_payload(facts: list[dict[str, Any]], tag: str) -> dict[str, Any]:
    return {
        "cik": 1,
        "entityName": "SYNTHETIC",
        "facts": {"us-gaap": {tag: {"label": "x", "description": "x", "units": {"USD": facts}}}},
    }


def test_edgar_latest_filed_wins_on_restatement() -> None:
    """Synthetic: a 10-Q/A restates the H1 YTD; the list order must not matter."""
    facts = [
        _synthetic_fact("2024-06-01", "2024-11-30", 9_000_000_000, "10-Q/A", "2025-02-01"),
        _synthetic_fact("2024-06-01", "2024-08-31", 2_000_000_000, "10-Q", "2024-09-10"),
        _synthetic_fact("2024-06-01", "2024-11-30", 5_000_000_000, "10-Q", "2024-12-10"),
        _synthetic_fact("2024-06-01", "2024-11-30", 7_000_000_000, "8-K", "2025-03-01"),  # ignored
    ]
    for order in (facts, facts[::-1]):
        got = parse_companyfacts_capex(_synthetic_payload(order, "PaymentsToAcquireProductiveAssets"))
        assert got.rows() == [
            (date(2024, 7, 1), 2000.0, date(2024, 8, 31)),
            (date(2024, 10, 1), 7000.0, date(2024, 11, 30)),  # 9000 restated - 2000
        ]


def test_edgar_uses_first_tag_present() -> None:
    fact = [_synthetic_fact("2024-01-01", "2024-03-31", 1_000_000_000, "10-Q", "2024-05-01")]
    payload = _synthetic_payload(fact, "PaymentsToAcquireProductiveAssets")
    other = [_synthetic_fact("2024-01-01", "2024-03-31", 3_000_000_000, "10-Q", "2024-05-01")]
    payload["facts"]["us-gaap"]["PaymentsToAcquirePropertyPlantAndEquipment"] = {"units": {"USD": other}}
    assert parse_companyfacts_capex(payload)["y"].to_list() == [3000.0]
    assert parse_companyfacts_capex(payload, tags=("PaymentsToAcquireProductiveAssets",))["y"].to_list() == [1000.0]
    with pytest.raises(ConnectorError, match=r"EDGAR CIK 1 \(SYNTHETIC\): none of the tags"):
        parse_companyfacts_capex(payload, tags=("CapitalExpenditures",))


def test_edgar_malformed_fact() -> None:
    payload = copy.deepcopy(load(EDGAR_FIXTURE))
    usd = payload["facts"]["us-gaap"]["PaymentsToAcquirePropertyPlantAndEquipment"]["units"]["USD"]
    del usd[3]["end"]
    with pytest.raises(ConnectorError, match=r"EDGAR CIK 1341439 .*fact 3 is malformed"):
        parse_companyfacts_capex(payload)


@pytest.mark.parametrize("status", [403, 404, 429, 500])
def test_edgar_non_200(status: int, serve: Callable[[Handler], httpx.Client]) -> None:
    client = serve(lambda r: httpx.Response(status, text="<Error/>"))
    with pytest.raises(ConnectorError, match=rf"EDGAR CIK 1341439: HTTP {status}"):
        fetch_edgar_companyfacts(CIKS["ORCL"], USER_AGENT, client)


def test_edgar_malformed_or_missing_user_agent(serve: Callable[[Handler], httpx.Client]) -> None:
    with pytest.raises(ConnectorError, match="not JSON"):
        fetch_edgar_companyfacts(1341439, USER_AGENT, serve(lambda r: httpx.Response(200, text="<")))
    with pytest.raises(ConnectorError, match="no 'facts' object"):
        fetch_edgar_companyfacts(1341439, USER_AGENT, serve(lambda r: httpx.Response(200, json=[])))
    wrong = {"cik": 789019, "facts": {}}
    with pytest.raises(ConnectorError, match="response is for CIK 789019"):
        fetch_edgar_companyfacts(1341439, USER_AGENT, serve(lambda r: httpx.Response(200, json=wrong)))
    with pytest.raises(ConnectorError, match="User-Agent"):
        fetch_edgar_companyfacts(1341439, " ", serve(never_called))


# --------------------------------------------------------------------------------------------- output


def test_write_date_value_csv_round_trip(tmp_path: Path) -> None:
    df = parse_fred_observations(load(FRED_FIXTURE))
    path = tmp_path / "fred_IPG3344S.csv"
    path.write_text("stale\n")
    write_date_value_csv(df.reverse(), path)  # output is sorted regardless of input order

    lines = path.read_text().splitlines()
    assert lines[0] == "date,value"
    assert lines[1] == "2024-06-01,143.4192"
    back = pl.read_csv(path, schema={"date": pl.Date(), "value": pl.Float64()})
    assert back.rename({"date": "ds", "value": "y"}).equals(df)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_write_date_value_csv_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.csv"
    path.write_text("date,value\n2020-01-01,1.0\n")

    def boom(self: pl.DataFrame, *args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        write_date_value_csv(pl.DataFrame({"ds": [date(2021, 1, 1)], "y": [2.0]}), path)
    assert path.read_text() == "date,value\n2020-01-01,1.0\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_date_value_csv_refuses_gaps_as_blanks(tmp_path: Path) -> None:
    df = pl.DataFrame({"ds": [date(2021, 1, 1)], "y": [None]}, schema={"ds": pl.Date, "y": pl.Float64})
    with pytest.raises(ValueError, match="null"):
        write_date_value_csv(df, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
