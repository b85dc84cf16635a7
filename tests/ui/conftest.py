"""The web UI in a real headless Chromium against real alerter processes.

One browser per test module (starting Chromium costs a second or two); each test starts its own
alerter, so each test's page has its own origin and its own localStorage. After every test the
browser console must hold no error other than the HTTP refusals the page asked for and showed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.support.browser import LAPTOP, page_errors, start_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def _no_page_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose pages logged a JavaScript error, and give the next test a laptop-sized
    window whatever this one did."""
    yield
    if "browser" not in request.fixturenames:
        return
    driver: WebDriver = request.getfixturevalue("browser")
    errors = page_errors(driver)
    driver.set_window_size(*LAPTOP)
    assert not errors, f"the page logged errors: {errors}"
