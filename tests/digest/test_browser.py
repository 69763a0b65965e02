"""The HTML digest in headless Chromium: it renders, the key parts are there, the hostile
title stays text, and the page asks for nothing over the network."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.digest import preview_digest
from tests.digest.conftest import DAY

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); "
                    "the browser test needs it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_digest_renders_in_chromium_without_requests(digest_settings, browser, tmp_path):
    html_file = tmp_path / "digest.html"
    preview = preview_digest(digest_settings, DAY, html_file)
    assert preview["path"] == str(html_file)

    page = browser.new_page(viewport={"width": 760, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    # Anything the page tried to fetch would be recorded above and refused here.
    page.route("**/*", lambda route: route.abort())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content(html_file.read_text(encoding="utf-8"), wait_until="load")

    screenshot = tmp_path / "digest.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 5_000

    assert page.locator("#digest-title").inner_text() == "Russia–Asia digest · 2026-11-20"
    assert page.locator("#digest-title").is_visible()
    assert page.locator(".summary").first.inner_text().startswith("11 relevant articles")
    assert page.locator(".topic").count() == 3  # energy, kurils, military (empty chart)
    assert page.locator(".topic[data-topic='energy'] .story").count() == 5
    assert page.locator(".topic[data-topic='energy'] .more").inner_text() == "and 2 more stories"
    assert page.locator(".chart").count() == 3
    assert page.locator(".topic[data-topic='energy'] .chart td.bar").count() == 30
    also = page.locator(".also-in").all_inner_texts()
    assert also == ["also in: Xinhua, SCMP"]
    bar_heights = page.eval_on_selector_all(
        ".topic[data-topic='energy'] .chart td.fill",
        "els => els.map(e => e.getBoundingClientRect().height)")
    assert bar_heights[-1] == max(bar_heights) == 36  # 9 articles on the day itself

    # The hostile title is visible text; no script element exists or ran.
    assert page.get_by_text("<script>window.__xss = 1</script> Kuril talks").count() == 1
    assert page.evaluate("document.querySelectorAll('script, img, iframe').length") == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    hrefs = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    assert page.locator(".pipeline-health li").count() == 1  # the failing source

    assert requests == [], f"the digest tried to load {requests}"
    assert errors == []
    page.close()
