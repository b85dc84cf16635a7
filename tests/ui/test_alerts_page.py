"""#/alerts: the links notifications carry, filters, text that stays text, a page that refreshes
itself, and a page usable from the keyboard and on a phone."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import requests
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.e2e.conftest import Deployment, alert, start_embedded, webhook_receiver, write_config
from tests.support.browser import PHONE, click, rebuilt, texts, wait_css, wait_for, wait_text
from tests.support.http_sink import HttpSink
from tests.support.smtp_server import SmtpServer


def page(dep: Deployment, path: str, **params: str) -> str:
    """The address of a UI page with its query after the fragment, as Alertmanager's links are."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"{dep.web_urls[0]}/#{path}?{query}"


def group_names(driver: WebDriver) -> list[str]:
    """The alertname of every group shown, in page order."""
    return [
        e.text.removeprefix("alertname=")
        for e in driver.find_elements(By.CSS_SELECTOR, "#alert-groups .group-head .pill")
        if e.text.startswith("alertname=")
    ]


def shows_groups(driver: WebDriver, expected: list[str]) -> bool:
    return sorted(group_names(driver)) == sorted(expected)


def wait_groups(driver: WebDriver, expected: list[str], timeout: float = 20) -> None:
    wait_for(
        driver,
        lambda d: shows_groups(d, expected),
        timeout,
        f"expected the groups {expected}",
    )


def test_the_link_in_a_notification_opens_the_alerts_of_its_receiver(
    tmp_path: Path, browser: WebDriver, started: list[Deployment]
) -> None:
    """The default email's "View alerts" link (`{{ .ExternalURL }}/#/alerts?receiver=<urlquery>`)
    leads to the page, under --web.external-url's path, showing that receiver's alerts only; a
    receiver name with a space (written "+" by urlquery) included."""
    with SmtpServer(starttls=False) as smtp, HttpSink() as hook:
        mail = {
            "name": "team b",
            "email_configs": [
                {
                    "to": "oncall@example.com",
                    "from": "alerter@example.com",
                    "smarthost": f"127.0.0.1:{smtp.port}",
                    "require_tls": False,
                }
            ],
        }
        config = write_config(
            tmp_path / "am.yml",
            [webhook_receiver(hook.url, "team-a"), mail],
            route={"routes": [{"matchers": ['team="b"'], "receiver": "team b"}]},
        )
        dep = start_embedded(config, tmp_path / "data", external_path="/alerter")
        started.append(dep)
        dep.post(
            [
                alert("DiskFull", severity="critical", instance="db1"),
                alert("CPUHigh", severity="warning", instance="web1"),
                alert("QueueStuck", team="b", severity="critical"),
            ]
        )
        html = smtp.wait_for(1, timeout=30)[0].message.get_body(("html",)).get_content()
        link = re.search(r'<a href="([^"]+)"[^>]*>View alerts</a>', html)
        assert link is not None, html
        url = link.group(1).replace("&amp;", "&")
        assert url == f"{dep.web_urls[0]}/#/alerts?receiver=team+b"

        browser.get(url)
        wait_groups(browser, ["QueueStuck"])
        wait_for(
            browser,
            lambda d: Select(d.find_element(By.ID, "alerts-receiver")).first_selected_option.text == "team b",
            10,
            "the receiver select does not show team b",
        )
        assert texts(browser, "#alert-groups .receiver") == ["receiver: team b"]

        browser.get(f"{dep.web_urls[0]}/#/alerts?receiver=team-a")
        wait_groups(browser, ["CPUHigh", "DiskFull"])

        browser.get(page(dep, "/alerts", filter='{severity="critical"}'))
        wait_groups(browser, ["DiskFull", "QueueStuck"])
        assert browser.find_element(By.ID, "alerts-filter").get_attribute("value") == '{severity="critical"}'
        summary = wait_css(browser, "#alerts-summary")
        assert summary.text == "2 groups, 2 alerts"


def test_label_values_and_annotations_render_as_text(dep: Deployment, browser: WebDriver) -> None:
    """Markup and template syntax in labels and annotations show as the characters they are:
    nothing runs, no element is made from them, and a javascript: URL is no link."""
    evil = alert("Evil", x="<script>window.pwned = 1</script>", tmpl="{{ .Labels.x }}")
    evil["annotations"] = {
        "summary": '<img src="x" onerror="window.pwned = 2">',
        "desc": '{{ template "x" }} &amp;',
    }
    evil["generatorURL"] = "javascript:window.pwned = 3"
    dep.post([evil])

    browser.get(f"{dep.web_urls[0]}/#/alerts")
    wait_text(browser, "#alert-groups .alert .pill", "x=<script>window.pwned = 1</script>")
    pills = texts(browser, "#alert-groups .alert .pill")
    assert "tmpl={{ .Labels.x }}" in pills
    annotations = texts(browser, "#alert-groups .annotations dd")
    assert annotations == ['{{ template "x" }} &amp;', '<img src="x" onerror="window.pwned = 2">']
    assert browser.find_elements(By.CSS_SELECTOR, "#alert-groups img, #alert-groups script") == []
    assert texts(browser, "#alert-groups .unsafe-url") == ["Source"]
    assert browser.find_elements(By.CSS_SELECTOR, '#alert-groups a[href^="javascript"]') == []

    # The silence form prefilled from the alert holds the same characters.
    click(browser, "#alert-groups .alert a.button", "Silence")
    wait_css(browser, "#silence-form")
    values = {
        row.find_element(By.CSS_SELECTOR, ".m-name").get_attribute("value"): row.find_element(
            By.CSS_SELECTOR, ".m-value"
        ).get_attribute("value")
        for row in browser.find_elements(By.CSS_SELECTOR, ".matcher-row")
    }
    assert values == {
        "alertname": "Evil",
        "x": "<script>window.pwned = 1</script>",
        "tmpl": "{{ .Labels.x }}",
    }
    wait_text(browser, "#silence-preview-count", "1 alert matches now.")
    assert browser.execute_script("return window.pwned") is None


def test_the_page_refreshes_by_itself(dep: Deployment, browser: WebDriver) -> None:
    dep.post([alert("First")])
    browser.get(f"{dep.web_urls[0]}/#/alerts")
    wait_groups(browser, ["First"])
    Select(browser.find_element(By.ID, "refresh-every")).select_by_visible_text("2s")
    dep.post([alert("Second")])
    wait_groups(browser, ["First", "Second"], timeout=30)
    # Resolved: gone from the page at a later refresh, still without a reload.
    dep.post([alert("Second", ends_in=-1, started_ago=60)])
    wait_groups(browser, ["First"], timeout=30)


def test_filters_work_from_the_keyboard_and_switches_show_silenced_alerts(
    dep: Deployment, browser: WebDriver
) -> None:
    dep.post([alert("Disk", severity="critical"), alert("Cpu", severity="warning")])
    silence_api(dep, "Cpu")
    browser.get(f"{dep.web_urls[0]}/#/alerts")
    wait_groups(browser, ["Disk"])  # silenced alerts are hidden by default, as in Alertmanager

    typed = browser.find_element(By.ID, "alerts-filter")
    rebuilt(browser, "#alerts-controls", lambda: typed.send_keys('{severity=~"crit.*"}', Keys.ENTER))
    assert "filter=%7Bseverity%3D~%22crit.*%22%7D" in browser.current_url
    wait_groups(browser, ["Disk"])
    # Still in the filter box after the page applied it: the keyboard stays where it was.
    assert browser.switch_to.active_element.get_attribute("id") == "alerts-filter"
    box = browser.find_element(By.ID, "alerts-filter")
    box.clear()
    rebuilt(browser, "#alerts-controls", lambda: box.send_keys(Keys.ENTER))
    # Tab from the filter reaches the other controls in order, and Space toggles a switch.
    focused = []
    for _ in range(4):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        focused.append(browser.switch_to.active_element.get_attribute("id"))
    assert focused == ["alerts-receiver", "alerts-group", "alerts-active", "alerts-silenced"]
    rebuilt(browser, "#alerts-controls", lambda: browser.switch_to.active_element.send_keys(Keys.SPACE))
    assert "silenced=true" in browser.current_url
    wait_groups(browser, ["Cpu", "Disk"])
    wait_text(browser, "#alert-groups .badge-silenced", "silenced")

    # A label is a button: clicking it (Enter or Space would too: it is a <button>) filters on it.
    assert {e.tag_name for e in browser.find_elements(By.CSS_SELECTOR, "#alert-groups .pill")} == {"button"}
    rebuilt(
        browser, "#alerts-controls", lambda: click(browser, "#alert-groups .alert .pill", "severity=warning")
    )
    wait_groups(browser, ["Cpu"])


def test_custom_grouping_groups_by_the_labels_asked_for(dep: Deployment, browser: WebDriver) -> None:
    dep.post(
        [
            alert("Disk", severity="critical", instance="db1"),
            alert("Cpu", severity="critical", instance="db1"),
            alert("Cpu", severity="warning", instance="web1"),
        ]
    )
    browser.get(page(dep, "/alerts", group="severity", customGrouping="true"))
    wait_text(browser, "#alerts-summary", "2 groups, 3 alerts")
    heads = texts(browser, "#alert-groups .group-head .pills")
    assert heads == ["severity=critical", "severity=warning"]
    assert browser.find_element(By.ID, "alerts-group").get_attribute("value") == "severity"
    # No route's receiver for such a group: each alert names its own.
    assert set(texts(browser, "#alert-groups .alert .muted")) == {"receivers: hook"}


def test_bad_addresses_say_what_is_wrong(dep: Deployment, browser: WebDriver) -> None:
    base = dep.web_urls[0]
    browser.get(f"{base}/#/alerts?recever=team")
    wait_text(browser, ".error", 'unknown parameter "recever" in the address')
    browser.get(page(dep, "/alerts", filter='{severity="crit'))
    wait_text(browser, "#alerts-error", "unterminated quoted string")
    browser.get(f"{base}/#/alerts?silenced=yes")
    wait_text(browser, "#alerts-error", 'parameter silenced must be true or false, not "yes"')
    # A matcher only the API can judge: its message, as the API words it.
    browser.get(page(dep, "/alerts", filter='{a=~"("}'))
    refusal = requests.get(f"{base}/api/v2/alerts", params={"filter": 'a=~"("'}, timeout=10)
    assert refusal.status_code == 400
    wait_text(browser, "#alerts-error", f"{refusal.json()} (HTTP 400)")
    browser.get(f"{base}/#/nowhere")
    wait_text(browser, "main h1", "Page not found")


def test_pages_fit_a_phone_screen(dep: Deployment, browser: WebDriver) -> None:
    """At a phone's width no page scrolls sideways (wide tables scroll inside their box)."""
    long = "a-very-long-label-value-without-any-space-" * 4
    dep.post([alert("Disk", instance=long, severity="critical"), alert("Cpu")])
    silence_api(dep, "Cpu")
    browser.set_window_size(*PHONE)
    for fragment, ready in [
        ("/alerts", "#alert-groups .alert"),
        ("/silences", "#silences-results .silence"),
        ("/silences/new?filter=" + quote('{instance="' + long + '"}'), "#silence-preview-count"),
        ("/status", "#status-config"),
        ("/history", "#history-results"),
        ("/workers", "#workers-table"),
    ]:
        browser.get(f"{dep.web_urls[0]}/#{fragment}")
        wait_css(browser, ready)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"#{fragment} is {overflow}px wider than the phone's screen"


def silence_api(dep: Deployment, alertname: str) -> str:
    """A silence for `alertname` made through the API, as amtool would."""
    body = {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True}],
        "startsAt": "2000-01-01T00:00:00Z",
        "endsAt": "2100-01-01T00:00:00Z",
        "createdBy": "test",
        "comment": "through the API",
    }
    r = requests.post(f"{dep.web_urls[0]}/api/v2/silences", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["silenceID"])
