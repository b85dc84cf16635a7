"""#/silences/new, #/silences, #/silences/<id>: a silence made in the form mutes its alert, the
list expires it and the alert is back; the form edits, and shows the API's refusals as worded."""

from __future__ import annotations

from datetime import datetime, timedelta

import requests
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.e2e.conftest import Deployment, alert
from tests.support.browser import click, wait_css, wait_text
from tests.support.processes import wait_until


def fill(driver: WebDriver, element_id: str, text: str) -> None:
    box = driver.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(text)


def test_a_silence_made_in_the_form_mutes_its_alert_and_expiring_it_unmutes(
    dep: Deployment, browser: WebDriver
) -> None:
    dep.post([alert("DiskFull", instance="db1", severity="critical"), alert("DiskFull", instance="db2")])
    base = dep.web_urls[0]
    browser.get(f"{base}/#/alerts")
    wait_text(browser, "#alerts-summary", "1 group, 2 alerts")
    db1 = dep.get("/api/v2/alerts", filter='instance="db1"')[0]["fingerprint"]
    click(browser, f'#alert-groups .alert[data-fingerprint="{db1}"] a.button', "Silence")

    # Prefilled with the alert's labels; the preview names the one alert it will mute.
    wait_css(browser, "#silence-form")
    rows = [
        (
            r.find_element(By.CSS_SELECTOR, ".m-name").get_attribute("value"),
            Select(r.find_element(By.CSS_SELECTOR, ".m-op")).first_selected_option.text,
            r.find_element(By.CSS_SELECTOR, ".m-value").get_attribute("value"),
        )
        for r in browser.find_elements(By.CSS_SELECTOR, ".matcher-row")
    ]
    assert rows == [
        ("alertname", "=", "DiskFull"),
        ("instance", "=", "db1"),
        ("severity", "=", "critical"),
    ]
    wait_text(browser, "#silence-preview-count", "1 alert matches now.")
    assert "instance=db1" in browser.find_element(By.CSS_SELECTOR, "#silence-preview").text
    # Duration drives the end time.
    fill(browser, "silence-duration", "3h")
    start = browser.find_element(By.ID, "silence-start").get_attribute("value")
    end = browser.find_element(By.ID, "silence-end").get_attribute("value")
    fill(browser, "silence-creator", "oncall@example.com")
    fill(browser, "silence-comment", "disk replaced tonight")
    browser.find_element(By.ID, "silence-submit").click()

    # The silence view: in the API as made in the form, and muting the alert.
    wait_text(browser, "#silence-state", "active")
    sid = browser.current_url.rsplit("/", 1)[1]
    silence = dep.get(f"/api/v2/silence/{sid}")
    assert silence["createdBy"] == "oncall@example.com"
    assert silence["comment"] == "disk replaced tonight"
    assert [(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in silence["matchers"]] == [
        ("alertname", "DiskFull", False, True),
        ("instance", "db1", False, True),
        ("severity", "critical", False, True),
    ]
    assert silence["endsAt"] == end.replace("Z", ".000Z")
    assert datetime.fromisoformat(start) <= datetime.fromisoformat(silence["startsAt"])
    muted = dep.get("/api/v2/alerts", filter='instance="db1"')[0]
    assert muted["status"] == {
        "state": "suppressed",
        "silencedBy": [sid],
        "inhibitedBy": [],
        "mutedBy": [],
    }
    wait_text(browser, "#silence-view", "Muted alerts (1)")

    # The alert list hides it (silenced alerts are off by default); the other stays.
    browser.get(f"{base}/#/alerts")
    wait_text(browser, "#alerts-summary", "1 group, 1 alert")

    # The silence list: active, muting one alert; Expire, confirmed, unmutes it.
    browser.get(f"{base}/#/silences")
    card = wait_css(browser, f'.silence[data-id="{sid}"]')
    assert "1 alert muted" in card.text
    assert browser.find_element(By.ID, "silences-tab-active").text == "Active (1)"
    click(browser, f'.silence[data-id="{sid}"] .expire button', "Expire")
    click(browser, f'.silence[data-id="{sid}"] .expire[data-confirming] button', "Confirm expire")
    wait_text(browser, "#silences-tab-expired", "Expired (1)")
    assert dep.get(f"/api/v2/silence/{sid}")["status"]["state"] == "expired"
    wait_until(
        lambda: dep.get("/api/v2/alerts", filter='instance="db1"')[0]["status"]["state"] == "active",
        timeout=10,
        message="the alert stayed suppressed after its silence expired",
    )
    click(browser, "#silences-tab-expired")
    wait_css(browser, f'.silence[data-state="expired"][data-id="{sid}"]')
    browser.get(f"{base}/#/alerts")
    wait_text(browser, "#alerts-summary", "1 group, 2 alerts")


def test_editing_a_silence_keeps_its_id_and_refusals_show_the_api_message(
    dep: Deployment, browser: WebDriver
) -> None:
    base = dep.web_urls[0]
    body = {
        "matchers": [{"name": "team", "value": "db", "isRegex": False, "isEqual": True}],
        "startsAt": "2000-01-01T00:00:00Z",
        "endsAt": "2100-01-01T00:00:00Z",
        "createdBy": "amtool",
        "comment": "maintenance",
    }
    sid = requests.post(f"{base}/api/v2/silences", json=body, timeout=10).json()["silenceID"]

    browser.get(f"{base}/#/silences/{sid}/edit")
    wait_css(browser, "#silence-form")
    assert browser.find_element(By.ID, "silence-comment").get_attribute("value") == "maintenance"
    fill(browser, "silence-comment", "maintenance, extended")
    # Duration and end follow each other.
    fill(browser, "silence-duration", "1d2h")
    start = datetime.fromisoformat(browser.find_element(By.ID, "silence-start").get_attribute("value"))
    end = start + timedelta(days=1, hours=2)
    assert browser.find_element(By.ID, "silence-end").get_attribute("value") == end.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    fill(browser, "silence-end", (end + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert browser.find_element(By.ID, "silence-duration").get_attribute("value") == "1d2h30m"
    fill(browser, "silence-end", "2101-01-01T00:00:00Z")
    browser.find_element(By.ID, "silence-submit").click()
    wait_text(browser, "#silence-view", "maintenance, extended")
    assert browser.current_url.endswith(f"#/silences/{sid}")  # an allowed update keeps the id
    assert dep.get(f"/api/v2/silence/{sid}")["endsAt"] == "2101-01-01T00:00:00.000Z"

    # Refused by the API: the form shows the API's own words and stays filled in.
    browser.get(f"{base}/#/silences/new")
    wait_css(browser, "#silence-form")
    row = browser.find_element(By.CSS_SELECTOR, ".matcher-row")
    row.find_element(By.CSS_SELECTOR, ".m-name").send_keys("job")
    Select(row.find_element(By.CSS_SELECTOR, ".m-op")).select_by_visible_text("=~")
    row.find_element(By.CSS_SELECTOR, ".m-value").send_keys(".*")
    fill(browser, "silence-creator", "me")
    browser.find_element(By.ID, "silence-submit").click()
    refused = {
        **body,
        "matchers": [{"name": "job", "value": ".*", "isRegex": True, "isEqual": True}],
        "endsAt": "2100-01-01T00:00:00Z",
    }
    answer = requests.post(f"{base}/api/v2/silences", json=refused, timeout=10)
    assert answer.status_code == 400
    wait_text(browser, "#silence-error", f"{answer.json()} (HTTP 400)")
    assert "#/silences/new" in browser.current_url
    assert row.find_element(By.CSS_SELECTOR, ".m-value").get_attribute("value") == ".*"

    # End before start: the API's refusal again, not a check of the form's own.
    row.find_element(By.CSS_SELECTOR, ".m-value").clear()
    row.find_element(By.CSS_SELECTOR, ".m-value").send_keys("db")
    fill(browser, "silence-end", "2001-01-01T00:00:00Z")
    browser.find_element(By.ID, "silence-submit").click()
    wait_text(browser, "#silence-error", "end time")
    shown = browser.find_element(By.ID, "silence-error").text
    direct = requests.post(
        f"{base}/api/v2/silences",
        json={
            **refused,
            "matchers": [{"name": "job", "value": "db", "isRegex": True, "isEqual": True}],
            "startsAt": browser.find_element(By.ID, "silence-start").get_attribute("value"),
            "endsAt": "2001-01-01T00:00:00Z",
        },
        timeout=10,
    )
    assert shown == f"{direct.json()} (HTTP {direct.status_code})"
    # A start that is no time at all never reaches the API: the form says what it wants.
    fill(browser, "silence-start", "tomorrow")
    browser.find_element(By.ID, "silence-submit").click()
    wait_text(browser, "#silence-error", '"tomorrow" is not a time such as 2026-01-31T14:00:00Z')
    assert len(dep.get("/api/v2/silences")) == 1
