"""The web UI in a real headless Chromium against real alerter processes.

One browser per test module (starting Chromium costs a second or two); each test starts its own
alerter, so each test's page has its own origin and its own localStorage. After every test the
browser console must hold no error other than the HTTP refusals the page asked for and showed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.conftest import Deployment, start_embedded, webhook_receiver, write_config
from tests.support.browser import LAPTOP, page_errors, start_chromium
from tests.support.http_sink import HttpSink


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def _no_page_errors(browser: WebDriver, started: list[Deployment]) -> Iterator[None]:
    """Fail a test whose pages logged a JavaScript error. Then leave the page (before `started`
    stops the test's alerter, so a page still refreshing itself does not log its absence) and
    give the next test a laptop-sized window whatever this one did."""
    yield
    errors = page_errors(browser)
    browser.get("about:blank")
    browser.set_window_size(*LAPTOP)
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def started() -> Iterator[list[Deployment]]:
    """Deployments a test starts itself (its own config): stopped when the test ends."""
    deployments: list[Deployment] = []
    yield deployments
    for dep in deployments:
        dep.stop()


@pytest.fixture
def dep(tmp_path: Path, started: list[Deployment]) -> Iterator[Deployment]:
    """An embedded alerter whose one receiver ("hook") is a webhook into a sink that accepts all."""
    with HttpSink() as hook:
        dep = start_embedded(
            write_config(tmp_path / "am.yml", [webhook_receiver(hook.url)]), tmp_path / "data"
        )
        started.append(dep)
        yield dep
