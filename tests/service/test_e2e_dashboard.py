"""The dashboard in a real browser: uvicorn on loopback, headless Debian Chromium driven by Playwright.

Needs ``/usr/bin/chromium`` (apt package ``chromium``) and the ``playwright`` Python package; Playwright's
own browser download is never used. Without them the test skips locally and fails when ``CI`` is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.conftest import AppFactory
from tests.service.e2e_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser, serve_in_thread


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_dashboard_renders_chart_outlook_and_leaderboard(make_app: AppFactory, tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with serve_in_thread(make_app()) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            # failed loads are checked above with their URL (the browser's own favicon probe 404s)
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.goto(f"{base}/dashboard", wait_until="load")

            select = page.locator("#series")
            expect(select.locator("option")).to_have_count(3, timeout=20_000)
            options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            assert set(options) == {"wsts_memory_sales_annual", "capex_meta", "nvidia_datacenter_revenue"}
            expect(page.locator("#model")).to_have_text("model version 1")

            # pick a series other than the one loaded first, as a user would
            select.select_option("capex_meta")
            expect(page.locator("#title")).not_to_have_text("Forecast", timeout=20_000)
            expect(page.locator("#status")).to_have_text("", timeout=20_000)
            assert page.url.endswith("#capex_meta")
            expect(page.locator("#meta")).to_contain_text("version 1")

            svg = page.locator("#chart svg")
            expect(svg).to_have_count(1)
            # history line, forecast line and both interval bands, each with real coordinates
            n_hist = svg.locator("polyline.hist").get_attribute("points") or ""
            n_fc = svg.locator("polyline.fc").get_attribute("points") or ""
            assert len(n_hist.split()) > 4, n_hist
            assert len(n_fc.split()) >= 2, n_fc
            for band in ("b80", "b95"):
                pts = svg.locator(f"polygon.{band}").get_attribute("points") or ""
                assert len(pts.split()) >= 4, (band, pts)
            coords = [float(v) for p in n_hist.split() for v in p.split(",")]
            assert all(c == c for c in coords) and len(set(coords)) > 2  # finite, not all collapsed
            box = svg.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100

            outlook_rows = page.locator("#outlook tbody tr")
            assert outlook_rows.count() > 0
            first_year = outlook_rows.first.locator("td").first.inner_text()
            assert first_year.isdigit() and 2000 < int(first_year) < 2100

            board_rows = page.locator("#leaderboard tbody tr")
            assert board_rows.count() > 1
            expect(page.locator("#leaderboard tbody tr.champion")).to_have_count(1)
            expect(page.locator("#lbh")).to_contain_text("champion")

            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert not errors, errors
