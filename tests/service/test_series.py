"""Catalog and history routes."""

from __future__ import annotations

import io

import polars as pl
from fastapi.testclient import TestClient

from pipelines.catalog import CATALOG
from tests.service.conftest import SERIES


def test_series_lists_whole_catalog_with_latest_figure(client: TestClient) -> None:
    r = client.get("/v1/series")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(CATALOG) == len(body["series"])
    assert body["model_version"] == "1"
    by_id = {s["id"]: s for s in body["series"]}
    meta = by_id["capex_meta"]
    assert meta["forecast"] is True and meta["frequency"] == "quarterly" and meta["unit"] == "US$ m"
    assert meta["last_period"] is not None and meta["last_value"] > 0
    assert isinstance(meta["staleness_days"], int) and meta["staleness_days"] >= 0
    assert by_id["tsmc_revenue"]["forecast"] is False  # not in the test champion


def test_series_filter_on_forecast(client: TestClient) -> None:
    ids = [s["id"] for s in client.get("/v1/series", params={"forecast": "true"}).json()["series"]]
    assert sorted(ids) == sorted(SERIES)
    others = client.get("/v1/series", params={"forecast": "false"}).json()
    assert others["count"] == len(CATALOG) - len(SERIES)


def test_history_json_respects_dates(client: TestClient) -> None:
    r = client.get("/v1/series/capex_meta/history", params={"start": "2020-01-01", "end": "2021-12-31"})
    assert r.status_code == 200
    obs = r.json()["observations"]
    assert [o["ds"] for o in obs] == [f"{y}-{m:02d}-01" for y in (2020, 2021) for m in (1, 4, 7, 10)]
    assert all(o["value"] is not None and o["published"] > o["period_end"] for o in obs)


def test_history_csv(client: TestClient, real_panel: pl.DataFrame) -> None:
    r = client.get("/v1/series/wsts_memory_sales_annual/history", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    frame = pl.read_csv(io.BytesIO(r.content), try_parse_dates=True)
    assert frame.columns == ["ds", "value", "period_end", "published"]
    expected = real_panel.filter(pl.col("unique_id") == "wsts_memory_sales_annual").drop_nulls("y")
    assert frame.height == expected.height
    assert frame["value"].to_list() == expected.sort("ds")["y"].to_list()


def test_history_keeps_gaps_as_missing_rows(client: TestClient) -> None:
    obs = client.get("/v1/series/wsts_worldwide_sales/history", params={"start": "2025-06-01"}).json()["observations"]
    assert "2025-08-01" not in [o["ds"] for o in obs]


def test_history_errors(client: TestClient) -> None:
    r = client.get("/v1/series/nope/history")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "unknown_series" and "wsts_worldwide_sales" in err["message"]
    assert set(err["detail"]["valid_ids"]) == set(CATALOG)
    # a start after end is well formed: nothing lies between them, and the body says so
    r = client.get("/v1/series/capex_meta/history", params={"start": "2022-01-01", "end": "2021-01-01"})
    assert r.status_code == 200 and r.json()["observations"] == []
    assert r.json()["notes"] == ["start (2022-01-01) is after end (2021-01-01): no period lies between them"]
    # dates are YYYY-MM-DD only (pydantic alone reads 0 as 1970-01-01)
    for bad in ("0", "1700000000", "2021-1-1", "2021-01-01T00:00:00"):
        r = client.get("/v1/series/capex_meta/history", params={"start": bad})
        assert r.status_code == 422, bad
    r = client.get("/v1/series/capex_meta/history", params={"format": "xml"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = client.get("/v1/series/capex_meta/history", params={"start": "yesterday"})
    assert r.status_code == 422 and "start" in r.json()["error"]["message"]


def test_history_negotiates_csv_by_accept(client: TestClient) -> None:
    """The README promised `Accept: text/csv` for history too; it used to be ignored."""
    path = "/v1/series/capex_meta/history"
    by_query = client.get(path, params={"format": "csv"})
    by_accept = client.get(path, headers={"Accept": "text/csv"})
    assert by_accept.status_code == 200 and by_accept.headers["content-type"].startswith("text/csv")
    assert by_accept.content == by_query.content
    assert by_accept.headers["content-disposition"] == 'inline; filename="capex_meta.csv"'
    assert by_accept.headers["vary"] == "Accept"
    refused = client.get(path, headers={"Accept": "text/csv;q=0, application/json"})
    assert refused.headers["content-type"].startswith("application/json") and refused.json()["series_id"]
    # an explicit ?format= wins over Accept
    assert client.get(path, params={"format": "json"},
                      headers={"Accept": "text/csv"}).headers["content-type"].startswith("application/json")
