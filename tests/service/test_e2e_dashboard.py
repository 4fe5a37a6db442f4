"""The dashboard in a real browser: uvicorn on loopback, headless Debian Chromium driven by Playwright.

Monthly worldwide sales (the 2025-08 gap, a nowcast month, a stored track record) at desktop and phone width:
polling with ETags, Back/Forward through views, the last actual and staleness, gaps as gaps, hover values, round
ticks with the unit above them, the track-record panel and the CSV download of what is drawn. Screenshots are
written to the test's tmp dir (kept by pytest under its basetemp).

Needs ``/usr/bin/chromium`` (apt package ``chromium``) and the ``playwright`` Python package; Playwright's own
browser download is never used. Without them the test skips locally and fails when ``CI`` is set.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from forecasting.serving import LoadedModel
from tests.service.conftest import AppFactory
from tests.service.e2e_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser, serve_in_thread

SID = "wsts_worldwide_sales"


def _watch(page: Any, errors: list[str], log: list[tuple[str, str, int, str | None]]) -> None:
    """Collect every page error, console error and HTTP error (the favicon included), and every API request."""
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)

    def on_response(r: Any) -> None:
        if r.status >= 400:
            errors.append(f"HTTP {r.status} {r.url}")
        if "/v1/" in r.url:
            log.append((r.request.method, r.url, r.status, r.request.headers.get("if-none-match")))

    page.on("response", on_response)


def _ticks(page: Any) -> list[float]:
    labels = page.locator("#chart svg text.ytick").all_text_contents()
    return [float(t.replace(",", "").rstrip("%")) for t in labels]


def _assert_round(ticks: list[float]) -> float:
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1, ticks
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5), (step, ticks)
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks), ticks
    return step


def _no_overlap(page: Any) -> None:
    """The unit label sits above the plot: it never covers a tick label."""
    unit = page.locator("#chart svg text.unit").bounding_box()
    assert unit is not None
    for box in page.locator("#chart svg text.ytick").evaluate_all(
            "ts => ts.map(t => { const b = t.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })"):
        left, top, right, bottom = box
        apart = right <= unit["x"] or left >= unit["x"] + unit["width"] or bottom <= unit["y"] \
            or top >= unit["y"] + unit["height"]
        assert apart, (box, unit)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_dashboard_polls_routes_and_draws_what_the_api_says(make_app: AppFactory, wsts_loaded: LoadedModel,
                                                            tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    log: list[tuple[str, str, int, str | None]] = []
    with serve_in_thread(make_app(model_loader=lambda: wsts_loaded)) as base, sync_playwright() as pw:
        api = httpx.Client(base_url=base, timeout=30)
        forecast = api.get(f"/v1/forecasts/{SID}").json()
        icon = api.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
        assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header, not a 404
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
            _watch(page, errors, log)
            page.goto(f"{base}/dashboard#poll=2", wait_until="load")
            expect(page.locator("#status")).to_have_text("", timeout=30_000)
            expect(page.locator("#title")).to_have_text(forecast["name"])
            expect(page.locator("#model")).to_have_text("model version 3")
            assert "series=wsts_worldwide_sales" in page.url and "poll=2" in page.url

            # last actual and staleness, from the forecast body's data status
            data = forecast["data"]
            freshness = page.locator("#freshness")
            expect(freshness).to_contain_text("Last actual: Jul 2026")
            expect(freshness).to_contain_text("published 7 Sep 2026")
            expect(freshness).to_contain_text("next release expected")
            staleness = f"{data['staleness_days']} days overdue" if data["staleness_days"] else "up to date"
            expect(page.locator("#staleness")).to_have_text(staleness)
            svg = page.locator("#chart svg")
            expect(svg.locator("circle.last-actual")).to_have_count(1)
            expect(svg.locator("text.last-actual-label")).to_have_text("last actual Jul 2026")
            # the nowcast month is drawn apart from the forecast
            expect(svg.locator("circle.nowcast")).to_have_count(len(data["nowcast"]))
            assert data["nowcast"] == ["2026-08-01"]

            # gaps are gaps: the history path breaks at 2025-08 (one more subpath than the line would have)
            hist = svg.locator("path.hist").get_attribute("d") or ""
            assert hist.count("M") == 2, hist
            for band in ("b80", "b95"):
                assert len((svg.locator(f"polygon.{band}").get_attribute("points") or "").split()) >= 4

            # round ticks, not below zero for sales, the unit above them
            step = _assert_round(_ticks(page))
            assert min(_ticks(page)) == 0 and step >= 1
            _no_overlap(page)

            # hover values: over the gap and over a forecast month
            box = svg.bounding_box()
            assert box is not None and box["width"] > 600
            hover_x = svg.locator("rect.hover-area").bounding_box()
            assert hover_x is not None
            page.mouse.move(hover_x["x"] + hover_x["width"] - 2, hover_x["y"] + hover_x["height"] / 2)
            tip = page.locator("#tooltip")
            expect(tip).to_be_visible()
            last_point = forecast["points"][-1]
            expect(tip).to_contain_text("forecast")
            expect(tip).to_contain_text(f"{last_point['value']:,.0f}")
            expect(tip).to_contain_text("80%:")
            page.mouse.move(hover_x["x"] - 40, hover_x["y"] - 20)
            expect(tip).to_be_hidden()
            page.screenshot(path=str(tmp_path / "desktop-levels.png"), full_page=True)

            # polling: every resource on screen is revalidated with its ETag; unchanged answers are empty 304s
            loaded = len(log)
            page.wait_for_timeout(5_000)
            polls = log[loaded:]
            assert len(polls) >= 2 * 4, polls  # forecast, outlook, history, backtest, track record, twice
            assert all(method == "GET" and etag and status == 304 for method, _, status, etag in polls), polls
            expect(page.locator("#poll")).to_contain_text("unchanged")

            # views in the URL; Back and Forward change the view, not just the address
            page.locator("#view").select_option("growth")
            expect(page.locator("#chart svg text.unit")).to_have_text("% year on year")
            assert "view=growth" in page.url
            _assert_round(_ticks(page))
            page.locator("#view").select_option("years")
            expect(page.locator("#chart svg rect.bar-pub")).to_have_count(1)
            expect(page.locator("#chart svg circle.fc-dot")).to_have_count(len(api.get(
                f"/v1/forecasts/{SID}/outlook", params={"horizon": 3}).json()["outlook"]))
            assert "view=years" in page.url
            page.go_back()
            expect(page.locator("#view")).to_have_value("growth")
            expect(page.locator("#chart svg text.unit")).to_have_text("% year on year")
            page.go_back()
            expect(page.locator("#view")).to_have_value("levels")
            expect(page.locator("#chart svg path.hist")).to_have_count(1)
            expect(page.locator("#chart svg text.unit")).to_have_text("US$ bn")
            page.go_forward()
            expect(page.locator("#view")).to_have_value("growth")
            expect(page.locator("#chart svg text.unit")).to_have_text("% year on year")
            page.go_back()
            expect(page.locator("#view")).to_have_value("levels")

            # what we said then vs what happened
            track = api.get(f"/v1/track-record/{SID}").json()
            expect(page.locator("#track-section")).to_be_visible()
            expect(page.locator("#track-summary tbody tr")).to_have_count(len(track["summary"]))
            assert page.locator("#track-rows tbody tr").count() >= 8
            first = page.locator("#track-rows tbody tr").first.locator("td")
            assert re.fullmatch(r"\d{1,2} (Jun|Dec) \d{4}", first.nth(0).inner_text()), first.nth(0).inner_text()

            # the CSV is what is drawn: the published grid (gap included) and every forecast point
            with page.expect_download() as info:
                page.locator("#download").click()
            download = info.value
            assert download.suggested_filename == f"{SID}_levels.csv"
            path = tmp_path / download.suggested_filename
            download.save_as(path)
            rows = list(csv.DictReader(io.StringIO(path.read_text())))
            assert list(rows[0]) == ["ds", "kind", "value (US$ bn)", "lo_80", "hi_80", "lo_95", "hi_95"]
            kinds = {r["ds"]: r["kind"] for r in rows}
            assert kinds["2025-08-01"] == "missing" and kinds["2025-07-01"] == "published"
            assert kinds["2026-08-01"] == "nowcast"
            by_ds = {r["ds"]: r for r in rows}
            for p in forecast["points"]:
                assert float(by_ds[p["ds"]]["value (US$ bn)"]) == p["value"]
                band80 = next(b for b in p["intervals"] if b["level"] == 80)
                assert float(by_ds[p["ds"]]["lo_80"]) == band80["lo"]
            expect(page.locator("#download-note")).to_contain_text(f"{len(rows)} rows")

            # phone width: nothing overflows, the picker fits, the chart is redrawn at the new width
            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(600)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            picker = page.locator("#series").bounding_box()
            assert picker is not None and picker["x"] >= 0 and picker["x"] + picker["width"] <= 390
            width = page.locator("#chart svg").get_attribute("viewBox")
            assert width is not None and int(width.split()[2]) < 400, width
            _assert_round(_ticks(page))
            _no_overlap(page)
            page.screenshot(path=str(tmp_path / "phone-levels.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
