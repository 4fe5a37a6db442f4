"""The dashboard's memory and HBM views in a real browser (headless Debian Chromium driven by Playwright).

Same requirements as ``test_e2e_dashboard``: ``/usr/bin/chromium`` and the ``playwright`` package; without
them the test skips locally and fails when ``CI`` is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasting.serving import LoadedModel
from tests.service.conftest import AppFactory
from tests.service.e2e_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser, serve_in_thread

MEMORY = ["micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"]



@pytest.mark.slow
@pytest.mark.timeout(120)
def test_dashboard_shows_memory_and_the_hbm_fan_with_its_assumptions(make_app: AppFactory, hbm_loaded: LoadedModel,
                                                                      tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with serve_in_thread(make_app(model_loader=lambda: hbm_loaded)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.goto(f"{base}/dashboard#hbm_revenue", wait_until="load")

            select = page.locator("#series")
            expect(select.locator("option")).to_have_count(5, timeout=20_000)
            group = select.locator("optgroup[label='Memory and HBM'] option")
            assert group.evaluate_all("os => os.map(o => o.value)") == [*MEMORY, "hbm_revenue"]

            # the hash picked HBM: yearly fan, outlook and assumptions instead of a backtest
            expect(page.locator("#title")).to_contain_text("HBM", timeout=20_000)
            expect(page.locator("#status")).to_have_text("", timeout=20_000)
            expect(page.locator("#meta")).to_contain_text("structural")
            svg = page.locator("#chart svg")
            expect(svg.locator("rect.b95")).to_have_count(3)
            expect(svg.locator("rect.b80")).to_have_count(3)
            expect(svg.locator("polygon.est")).to_have_count(3)  # the three dated market-size estimates
            assert len((svg.locator("polyline.fc").get_attribute("points") or "").split()) == 3
            heights = svg.locator("rect.b95").evaluate_all("rs => rs.map(r => Number(r.getAttribute('height')))")
            assert all(h > 1 for h in heights), heights
            expect(page.locator("#outlook tbody tr")).to_have_count(3)
            expect(page.locator("#outlook tbody tr").first.locator("td").first).to_have_text("2026")
            expect(page.locator("#assumptions-section")).to_be_visible()
            expect(page.locator("#leaderboard-section")).to_be_hidden()
            expect(page.locator("#assumptions tbody tr.param")).to_have_count(2)
            assert page.locator("#assumptions tbody tr.sub").count() >= 4
            expect(page.locator("#elasticities tbody tr")).to_have_count(3)
            assert page.locator("#limits li").count() >= 3
            expect(page.locator("#formula")).to_contain_text("accelerator_share")
            page.screenshot(path=str(tmp_path / "hbm.png"), full_page=True)

            # a memory series switches back to the ordinary fan chart and leaderboard
            select.select_option("micron_revenue")
            expect(page.locator("#title")).to_contain_text("Micron", timeout=20_000)
            expect(page.locator("#status")).to_have_text("", timeout=20_000)
            expect(page.locator("#leaderboard-section")).to_be_visible()
            expect(page.locator("#assumptions-section")).to_be_hidden()
            expect(page.locator("#chart svg polygon.b80")).to_have_count(1)
            assert page.url.endswith("#micron_revenue")
        finally:
            browser.close()
    assert not errors, errors
