"""`GET /v1/track-record/{series_id}`: what we said then vs what happened, as JSON and as CSV (the same rows,
rounded the same way), with ETags, and clear errors for series without one."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from forecasting.serving import LoadedModel
from tests.service.conftest import AppFactory

pytestmark = pytest.mark.slow

SID = "wsts_worldwide_sales"


@pytest.fixture
def client(make_app: AppFactory, wsts_loaded: LoadedModel) -> Iterator[TestClient]:
    with TestClient(make_app(model_loader=lambda: wsts_loaded)) as c:
        yield c


def _num(text: str) -> float | None:
    return None if text == "" else float(text)


def test_csv_holds_the_json_rows_rounded_alike(client: TestClient) -> None:
    """The CSV once printed 3 decimals (-2.175) where the JSON said -2.18."""
    body = client.get(f"/v1/track-record/{SID}").json()
    r = client.get(f"/v1/track-record/{SID}", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(body["rows"]) >= 20
    for c, j in zip(rows, body["rows"], strict=True):
        assert (c["origin"], c["model"], int(c["year"]), c["horizon"]) == (j["origin"], j["model"], j["year"],
                                                                             j["horizon"])
        assert _num(c["forecast_growth_pct"]) == j["forecast_growth_pct"]
        assert _num(c["error_pp"]) == j["error_pp"]
        assert _num(c["actual_growth_latest_pct"]) == j["actual_growth_latest_pct"]
        assert _num(c["forecast_value"]) == j["forecast_value"]
        for band in j["growth_intervals"]:
            assert _num(c[f"growth_lo_{band['level']}"]) == band["lo"]
            assert _num(c[f"growth_hi_{band['level']}"]) == band["hi"]
        for col in ("forecast_growth_pct", "error_pp", "growth_lo_80", "growth_hi_95"):
            if c[col]:
                assert len(c[col].split(".")[-1]) <= 2 or "e" in c[col], (col, c[col])


def test_rows_say_what_was_said_and_what_happened(client: TestClient) -> None:
    body = client.get(f"/v1/track-record/{SID}").json()
    scored = [r for r in body["rows"] if r["error_pp"] is not None]
    assert scored
    for r in scored:
        assert math.isclose(r["error_pp"], r["forecast_growth_pct"] - r["actual_growth_latest_pct"], abs_tol=0.011)
        band = {b["level"]: b for b in r["growth_intervals"]}
        assert r["hit_80"] == (band[80]["lo"] <= r["actual_growth_latest_pct"] <= band[80]["hi"]) or \
            abs(r["actual_growth_latest_pct"] - band[80]["lo"]) < 0.01 or \
            abs(r["actual_growth_latest_pct"] - band[80]["hi"]) < 0.01  # rounding at the edge
        assert band[95]["lo"] <= band[80]["lo"] <= r["forecast_growth_pct"] <= band[80]["hi"] <= band[95]["hi"]
    assert {s["question"] for s in body["summary"]} == {"next-year growth, asked 1 December",
                                                        "current-year growth, asked 1 June"}


def test_etag_answers_304_and_unknown_series_404(client: TestClient) -> None:
    first = client.get(f"/v1/track-record/{SID}")
    etag = first.headers["etag"]
    again = client.get(f"/v1/track-record/{SID}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    as_csv = client.get(f"/v1/track-record/{SID}", params={"format": "csv"})
    assert as_csv.headers["etag"] != etag  # a different representation, a different tag
    missing = client.get("/v1/track-record/not_a_series")
    assert missing.status_code == 404 and "Traceback" not in missing.text
