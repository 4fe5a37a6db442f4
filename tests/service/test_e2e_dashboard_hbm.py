"""The dashboard's memory, HBM and scenario views in a real browser (headless Debian Chromium driven by Playwright).

Same requirements as ``test_e2e_dashboard``: ``/usr/bin/chromium`` and the ``playwright`` package; without
them the test skips locally and fails when ``CI`` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from forecasting.serving import LoadedModel
from tests.service.conftest import AppFactory
from tests.service.e2e_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser, serve_in_thread

MEMORY = ["micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"]


def _cells(page: Any, table: str) -> list[list[str]]:
    rows = page.locator(f"#{table} tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_dashboard_shows_hbm_memory_and_runs_capex_scenarios(make_app: AppFactory, hbm_loaded: LoadedModel,
                                                            tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with serve_in_thread(make_app(model_loader=lambda: hbm_loaded)) as base, sync_playwright() as pw:
        api = httpx.Client(base_url=base, timeout=60)
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.goto(f"{base}/dashboard#hbm_revenue", wait_until="load")  # the old bare-id address still works

            select = page.locator("#series")
            group = select.locator("optgroup[label='Memory and HBM'] option")
            expect(group).to_have_count(4, timeout=20_000)
            assert group.evaluate_all("os => os.map(o => o.value)") == [*MEMORY, "hbm_revenue"]
            expect(page.locator("#title")).to_contain_text("HBM", timeout=20_000)
            expect(page.locator("#status")).to_have_text("", timeout=20_000)
            assert page.url.endswith("#series=hbm_revenue")

            # HBM is modelled per calendar year: 95%/80% ranges, the point-forecast line and the dated estimates
            svg = page.locator("#chart svg")
            expect(page.locator("#meta")).to_contain_text("structural")
            expect(page.locator("#freshness")).to_contain_text("Modelled, never published")
            expect(svg.locator("rect.b95")).to_have_count(3)
            expect(svg.locator("rect.b80")).to_have_count(3)
            expect(svg.locator("polygon.est")).to_have_count(3)
            assert len((svg.locator("polyline.fc").get_attribute("points") or "").split()) == 3
            labels = svg.locator("text.est-label").evaluate_all(
                "ts => ts.map(t => t.getBoundingClientRect().left)")
            chart_left = (svg.bounding_box() or {"x": 0.0})["x"]
            assert labels and min(labels) >= chart_left, labels  # estimate labels stay inside the chart
            expect(page.locator("#outlook tbody tr")).to_have_count(3)
            expect(page.locator("#assumptions-section")).to_be_visible()
            expect(page.locator("#leaderboard-section")).to_be_hidden()
            expect(page.locator("#track-section")).to_be_hidden()
            expect(page.locator("#elasticities tbody tr")).to_have_count(3)

            # capex scenarios: the base run is the baseline beside itself
            section = page.locator("#scenario-section")
            expect(section).to_be_visible()
            expect(page.locator("#scenario-name")).to_have_value("base")
            expect(page.locator("#scenario-capex tbody tr")).to_have_count(3, timeout=30_000)
            targets = page.locator("#scenario-targets tbody tr")
            expect(targets).to_have_count(4 * 3)
            assert {row[6] for row in _cells(page, "scenario-targets")} == {"+0.0%"}

            # a named scenario: capex and every target move; the baseline column stays the stored forecast
            baseline_before = [row[2] for row in _cells(page, "scenario-targets")]
            page.locator("#scenario-name").select_option("bull")
            expect(page.locator("#scenario-capex tbody tr").first.locator("td").nth(3)).to_have_text("1.15x",
                                                                                                    timeout=30_000)
            assert [r[3] for r in _cells(page, "scenario-capex")] == ["1.15x", "1.30x", "1.40x"]
            bull = _cells(page, "scenario-targets")
            assert [row[2] for row in bull] == baseline_before
            hbm_rows = [row for row in bull if row[0].startswith("hbm_revenue")]
            assert len(hbm_rows) == 3 and all(row[6].startswith("+") and row[6] != "+0.0%" for row in hbm_rows)

            # the guidance scenario: 2026 from the companies' statements, each used or left out with a reason
            page.locator("#scenario-name").select_option("guidance")
            expect(page.locator("#scenario-statements-box")).to_be_visible(timeout=30_000)
            expect(page.locator("#scenario-description")).to_contain_text("guidance")
            statements = page.locator("#scenario-statements li")
            assert statements.count() >= 10
            texts = statements.all_text_contents()  # the list is inside a closed <details>
            assert any(t.startswith("used: Alphabet, 2026-07-22") for t in texts), texts
            assert any(t.startswith("left out: Microsoft") and "CONFLICTING" in t for t in texts), texts
            assert any(t.startswith("left out: Oracle") and "no number" in t for t in texts), texts
            guided = api.post("/v1/scenarios", json={"scenario": "guidance"}).json()
            multiplier = next(c["multiplier"] for c in guided["capex"] if c["year"] == 2026)
            assert _cells(page, "scenario-capex")[0][3] == f"{multiplier:.2f}x"
            page.locator("#scenario-statements-box summary").click()
            page.screenshot(path=str(tmp_path / "desktop-hbm-guidance.png"), full_page=True)

            # the slider: capex +50% against the baseline in every forecast year
            page.locator("#capex-slider").fill("50")
            expect(page.locator("#capex-value")).to_have_text("+50%")
            expect(page.locator("#scenario-name")).to_have_value("custom")
            expect(page.locator("#scenario-capex tbody tr").first.locator("td").nth(3)).to_have_text("1.50x",
                                                                                                    timeout=30_000)
            assert [r[3] for r in _cells(page, "scenario-capex")] == ["1.50x"] * 3
            expect(page.locator("#scenario-statements-box")).to_be_hidden()

            # another series, then Back and Forward between them
            select.select_option("micron_revenue")
            expect(page.locator("#title")).to_contain_text("Micron", timeout=20_000)
            expect(page.locator("#status")).to_have_text("", timeout=20_000)
            assert page.url.endswith("#series=micron_revenue")
            expect(page.locator("#leaderboard-section")).to_be_visible()
            expect(page.locator("#assumptions-section")).to_be_hidden()
            expect(page.locator("#chart svg polygon.b80")).to_have_count(1)
            expect(page.locator("#leaderboard tbody tr.champion")).to_have_count(1)
            page.go_back()
            expect(page.locator("#title")).to_contain_text("HBM")
            expect(select).to_have_value("hbm_revenue")
            expect(page.locator("#chart svg rect.b95")).to_have_count(3)
            page.go_forward()
            expect(page.locator("#title")).to_contain_text("Micron")
            expect(select).to_have_value("micron_revenue")
            # a series derived from others (the memory market from the makers' revenues) has no leaderboard
            select.select_option("wsts_memory_sales_annual")
            expect(page.locator("#title")).to_contain_text("memory", timeout=20_000)
            expect(page.locator("#status")).to_have_text("")
            expect(page.locator("#leaderboard-section")).to_be_hidden()
            expect(page.locator("#chart svg polyline.fc")).to_have_count(1)

            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(600)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # revenue: no tick below zero, even though the lower 95% band reaches down to it; every label whole
            ticks = [float(t.replace(",", "")) for t in page.locator("#chart svg text.ytick").all_text_contents()]
            assert min(ticks) == 0, ticks
            left = (page.locator("#chart svg").bounding_box() or {"x": 0.0})["x"]
            lefts = page.locator("#chart svg text.ytick").evaluate_all(
                "ts => ts.map(t => t.getBoundingClientRect().left)")
            assert min(lefts) >= left, (lefts, left)
            page.screenshot(path=str(tmp_path / "phone-micron.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
