"""The page's own parsing, run in the browser where it runs: Alertmanager's matcher lists in
addresses, the fragment's query (as notifications encode it), durations in the silence form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.conftest import start_embedded, webhook_receiver, write_config
from tests.support.browser import wait_css


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded alerter for the whole module: these tests only need the page's modules."""
    tmp = tmp_path_factory.mktemp("modules")
    dep = start_embedded(
        write_config(tmp / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]), tmp / "data"
    )
    yield dep.web_urls[0]
    dep.processes[0].stop()


@pytest.fixture
def page(server: str, browser: WebDriver) -> WebDriver:
    browser.get(f"{server}/#/status")
    wait_css(browser, "#status-config")
    return browser


def call(driver: WebDriver, module: str, function: str, *args: Any) -> Any:
    """`function(*args)` from one of the page's modules, as {"value"} (a Map as an object), or
    {"error"} with the message of what it threw."""
    return driver.execute_async_script(
        """
        const [module, name, args, done] = arguments;
        const plain = (_, x) => (x instanceof Map ? Object.fromEntries(x) : x);
        import(`./assets/${module}`).then((m) => {
          try {
            done({ value: JSON.parse(JSON.stringify(m[name](...args), plain)) });
          } catch (err) {
            done({ error: err.message });
          }
        });
        """,
        module,
        function,
        list(args),
    )


@pytest.mark.parametrize(
    ("text", "matchers"),
    [
        ('{severity="critical"}', [["severity", "=", "critical"]]),
        (
            '{a="b", c=~"d.*",e!="f",g!~"h|i"}',
            [["a", "=", "b"], ["c", "=~", "d.*"], ["e", "!=", "f"], ["g", "!~", "h|i"]],
        ),
        ('a="b",c="d",', [["a", "=", "b"], ["c", "=", "d"]]),  # braces optional, a trailing comma
        ('{x="say \\"hi\\" \\\\ ok"}', [["x", "=", 'say "hi" \\ ok']]),
        ('{"service.name"="api"}', [["service.name", "=", "api"]]),
        ("{job=node, env = prod }", [["job", "=", "node"], ["env", "=", "prod"]]),
        ("", []),
        ("{}", []),
    ],
)
def test_matcher_lists_split_as_alertmanager_writes_them(
    page: WebDriver, text: str, matchers: list[list[str]]
) -> None:
    got = call(page, "matchers.js", "parseFilter", text)
    assert [[m["name"], m["op"], m["value"]] for m in got["value"]] == matchers


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{a="b"', "expected , or }"),
        ('{a="b}', "unterminated quoted string"),
        ("{=b}", "expected a label name"),
        ("{a b}", "expected one of = != =~ !~ after a"),
        ('{a="b"} c', "unexpected text"),
    ],
)
def test_a_broken_matcher_list_says_where(page: WebDriver, text: str, problem: str) -> None:
    assert problem in call(page, "matchers.js", "parseFilter", text)["error"]


def test_matchers_print_back_to_what_the_api_parses(page: WebDriver) -> None:
    got = call(page, "matchers.js", "matcherText", {"name": "service.name", "op": "=~", "value": 'a"b\\c'})
    assert got["value"] == '"service.name"=~"a\\"b\\\\c"'
    assert call(page, "matchers.js", "exactly", "team.a (eu)")["value"] == "team\\.a \\(eu\\)"


def test_the_fragment_query_reads_plus_as_a_space(page: WebDriver) -> None:
    """Notifications write the receiver with Go's urlquery: "team b" as team+b, "a+b" as a%2Bb."""
    got = call(page, "route.js", "parseHash", "#/alerts?receiver=team+b&filter=%7Ba%3D%22x%2By%22%7D")[
        "value"
    ]
    assert got == {"path": "/alerts", "params": {"receiver": "team b", "filter": '{a="x+y"}'}, "errors": []}
    broken = call(page, "route.js", "parseHash", "#/alerts?filter=%E0%A4%A")["value"]
    assert broken["errors"] == ['cannot decode "filter=%E0%A4%A" in the address']


@pytest.mark.parametrize(
    ("text", "ms", "printed"),
    [
        ("2h", 7_200_000, "2h"),
        ("1h30m", 5_400_000, "1h30m"),
        ("90m", 5_400_000, "1h30m"),
        ("1w", 604_800_000, "7d"),
        ("1d2h3m4s", 93_784_000, "1d2h3m4s"),
    ],
)
def test_silence_durations(page: WebDriver, text: str, ms: int, printed: str) -> None:
    assert call(page, "time.js", "parseDuration", text)["value"] == ms
    assert call(page, "time.js", "formatDuration", ms)["value"] == printed


@pytest.mark.parametrize("text", ["", "2", "2x", "h", "1h 30m", "-1h"])
def test_a_duration_that_is_not_one_is_refused(page: WebDriver, text: str) -> None:
    assert (
        "is not a duration such as 2h, 1h30m or 3d" in call(page, "time.js", "parseDuration", text)["error"]
    )
