"""A real headless Chromium driven by selenium: the web UI's tests, its benchmark, its screenshots.

Debian's `chromium` and `chromium-driver` packages (scripts/test installs them), found on PATH and
handed to selenium by path, so selenium never tries to download a browser or a driver. A missing
one fails the test with the package to install, as every other outside binary does.

Pages are waited on with WebDriverWait and a deadline, never with sleeps: a page is ready when
what it should show is there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.processes import require_binary

T = TypeVar("T")

LAPTOP = (1366, 900)
# How long a page may take to show what a test waits for. Generous: the suite runs three test
# processes on two cores beside failover tests, and a just-started Chromium's first page once
# took more than 20 s there; a page that works shows it in well under a second when idle.
PAGE_DEADLINE = 40.0
PHONE = (390, 844)


def start_chromium(size: tuple[int, int] = LAPTOP) -> WebDriver:
    """A fresh headless Chromium (its own temporary profile) with its console log kept."""
    chromium = require_binary("chromium", "chromium")
    driver = require_binary("chromedriver", "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # tests may run as root (CI containers), where the sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=en-US",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], timeout: float, message: str) -> T:
    """Poll `condition` until it returns something truthy (an element that went stale while the
    page refreshed counts as not yet), failing with `message` at the deadline, followed by what
    the page was showing then: a timeout in a loaded CI run is otherwise impossible to tell apart
    from a page that showed an error or never loaded."""
    try:
        return WebDriverWait(
            driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition, message)
    except TimeoutException as err:
        raise TimeoutException(f"{message} after {timeout:g} s; {_page_state(driver)}") from err


def _page_state(driver: WebDriver) -> str:
    """The page's address, the start of its visible text and its console's errors, for a
    failure message (never raises: the browser itself may be what stopped answering)."""
    try:
        shown = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
        errors = page_errors(driver)
        return f"the page at {driver.current_url} shows {shown[:400]!r}, console errors {errors!r}"
    except WebDriverException as err:
        return f"and the browser did not answer: {err.msg}"


def wait_css(driver: WebDriver, css: str, timeout: float = PAGE_DEADLINE) -> WebElement:
    """The first element matching `css` once it is displayed."""

    def shown(d: WebDriver) -> WebElement | None:
        found = [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        return found[0] if found else None

    return wait_for(driver, shown, timeout, f"nothing displayed matches {css}")


def wait_text(driver: WebDriver, css: str, expected: str, timeout: float = PAGE_DEADLINE) -> WebElement:
    """The first displayed element matching `css` whose text contains `expected`."""

    def showing(d: WebDriver) -> WebElement | None:
        for e in d.find_elements(By.CSS_SELECTOR, css):
            if e.is_displayed() and expected in e.text:
                return e
        return None

    def message() -> str:
        texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]
        return f"no {css} shows {expected!r}; they show {texts!r}"

    try:
        return wait_for(driver, showing, timeout, f"no {css} shows {expected!r}")
    except WebDriverException as err:
        raise AssertionError(message()) from err


def click(driver: WebDriver, css: str, text: str | None = None, timeout: float = PAGE_DEADLINE) -> None:
    """Click the first displayed element matching `css` (and showing `text`, when given); found
    again when a self-refreshing page rebuilt it between finding and clicking."""

    def attempt(d: WebDriver) -> bool:
        for e in d.find_elements(By.CSS_SELECTOR, css):
            if e.is_displayed() and (text is None or e.text == text):
                e.click()
                return True
        return False

    wait_for(driver, attempt, timeout, f"nothing to click at {css}" + (f" showing {text!r}" if text else ""))


def rebuilt(
    driver: WebDriver, css: str, action: Callable[[], object], timeout: float = PAGE_DEADLINE
) -> WebElement:
    """Do `action` (a filter applied, a link followed within the page) and return the element
    matching `css` once the page has built it anew: until then the old page is still there,
    and what a test reads or clicks on it would be stale."""
    driver.execute_script("document.querySelector(arguments[0]).dataset.replaced = 'yes'", css)
    action()
    return wait_css(driver, f"{css}:not([data-replaced])", timeout)


def texts(root: WebDriver | WebElement, css: str) -> list[str]:
    """The text of every element matching `css` in the page or under one element."""
    return [e.text for e in root.find_elements(By.CSS_SELECTOR, css)]


def page_errors(driver: WebDriver) -> list[str]:
    """The console's errors since the last call, except HTTP errors the page asked for and
    handled (a refused silence is a 400 the form shows)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")
    return [
        e["message"]
        for e in entries
        if e["level"] == "SEVERE" and "Failed to load resource: the server responded" not in e["message"]
    ]
