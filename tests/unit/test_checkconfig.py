"""`check-config` over the config corpus: alerter's verdicts, its report, and amtool's agreement."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.checkconfig import check_config

CORPUS = Path(__file__).resolve().parent.parent / "configs"
VALID = sorted(p.name for p in (CORPUS / "valid").glob("*.yml"))
INVALID = sorted(p.name for p in (CORPUS / "invalid").glob("*.yml"))
AMTOOL = "/usr/bin/amtool"

# Valid only for Alertmanager releases after the amtool 0.25 installed here, so amtool 0.25 refuses
# them; they are left out of the amtool comparison on purpose.
NEWER_THAN_AMTOOL = {
    "utf8_matchers.yml": "UTF-8 label names in matchers and group_by arrived in Alertmanager 0.27",
    "newer_webhook_fields.yml": "webhook url_file (0.26) and timeout (0.28) are unknown fields to 0.25",
    "newer_integrations.yml": "msteams (0.26), msteamsv2, jira, rocketchat (0.28) and incidentio (0.29)",
    "http_config_oauth2_headers.yml": "http_headers and oauth2's proxy settings are unknown fields to 0.25",
}

# alerter's message for each invalid config: current Alertmanager's wording (0.25 words a few
# differently, e.g. its webhook and Slack checks, which is why the amtool test compares verdicts).
EXPECTED_FAILURES = {
    "bad_duration_fraction.yml": 'unknown unit "." in duration "1.5h"',
    "bad_duration_negative.yml": 'not a valid duration string: "-1s"',
    "bad_duration_order.yml": 'not a valid duration string: "30m1h"',
    "bad_matcher.yml": "bad matcher format: severity!critical",
    "bad_matcher_quote.yml": 'matcher value contains unescaped double quote: "unterminated',
    "bad_regex.yml": "error parsing regexp: missing closing ): `^(?:(api|web)$`",
    "duplicate_key.yml": "yaml: unmarshal errors:\n  line 3: field receiver already set in type config.plain",
    "duplicate_receiver.yml": 'notification config name "team-X" is not unique',
    "email_missing_to.yml": "missing to address in email config",
    "email_no_from.yml": "no global SMTP from set",
    "email_no_smarthost.yml": "no global SMTP smarthost set",
    "empty.yml": "no route provided in config",
    "group_by_duplicate.yml": 'duplicated label "cluster" in group_by',
    "group_by_not_a_list.yml": (
        "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!str `alertname` into []string"
    ),
    "group_by_wildcard_mixed.yml": "cannot have wildcard group_by (`...`) and other labels at the same time",
    "group_interval_zero.yml": "group_interval cannot be zero",
    "http_config_conflict.yml": (
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
    ),
    "inhibit_bad_label_name.yml": 'invalid label name "bad-label"',
    "oauth2_jwt_bearer.yml": (
        "oauth2 grant_type urn:ietf:params:oauth:grant-type:jwt-bearer is not supported by alerter; use the "
        "client credentials grant (client_id with client_secret or client_secret_file)"
    ),
    "no_route.yml": "no routes provided",
    "pagerduty_without_key.yml": "missing service or routing key in PagerDuty config",
    "receiver_missing_name.yml": "missing name in receiver",
    "root_continue.yml": "cannot have continue in root route",
    "root_mute_time_intervals.yml": "root route must not have any mute time intervals",
    "root_route_match_legacy.yml": "root route must not have any matchers",
    "root_route_matchers.yml": "root route must not have any matchers",
    "root_route_no_receiver.yml": "root route must specify a default receiver",
    "slack_without_api_url.yml": "no Slack API URL nor App token set either inline or in a file",
    "smarthost_without_port.yml": "address smtp.example.org: missing port in address",
    "time_interval_bad_location.yml": "unknown time zone Mars/Olympus_Mons",
    "time_interval_bad_time.yml": "couldn't parse timestamp 25:00, invalid format",
    "time_interval_bad_weekday.yml": "fryday is not a valid weekday",
    "time_interval_duplicate.yml": 'time interval "duplicate" is not unique',
    "time_interval_missing_name.yml": "missing name in time interval",
    "tls_unknown_version.yml": "unknown TLS version: TLS14",
    "tracing_section.yml": (
        "tracing: alerter does not export OpenTelemetry traces (Alertmanager sends its spans to the "
        "endpoint configured here); remove the tracing section"
    ),
    "undefined_receiver.yml": 'undefined receiver "dba" used in route',
    "undefined_time_interval.yml": 'undefined time interval "business_hours" used in route',
    "unknown_field_route.yml": (
        "yaml: unmarshal errors:\n  line 3: field group_wiat not found in type config.plain"
    ),
    "unknown_field_webhook.yml": (
        "yaml: unmarshal errors:\n  line 7: field sendResolved not found in type webhook.plain"
    ),
    "unknown_fields_many.yml": (
        "yaml: unmarshal errors:\n"
        "  line 3: field foo not found in type config.plain\n"
        "  line 6: field bar not found in type config.plain\n"
        "  line 9: field baz not found in type common.plain"
    ),
    "unknown_top_level_key.yml": (
        "yaml: unmarshal errors:\n  line 3: field receiver not found in type config.plain"
    ),
    "webhook_bad_host.yml": 'invalid URL: invalid character " " in host name',
    "webhook_bad_scheme.yml": 'invalid URL: unsupported scheme "ftp" for URL',
    "webhook_no_url.yml": "one of url or url_file must be configured",
    "webhook_url_and_url_file.yml": "at most one of url & url_file must be configured",
    "wrong_type_bool.yml": "yaml: unmarshal errors:\n  line 7: cannot unmarshal !!str `false` into bool",
    "wrong_type_max_alerts.yml": "yaml: unmarshal errors:\n  line 7: cannot unmarshal !!int `-1` into uint64",
    "yaml_syntax_error.yml": "yaml: line 3: mapping values are not allowed in this context",
}


def test_corpus_is_big_enough_and_every_invalid_config_has_an_expected_message() -> None:
    assert len(VALID) + len(INVALID) >= 30
    assert sorted(EXPECTED_FAILURES) == INVALID


@pytest.mark.parametrize("name", VALID)
def test_valid_configs_pass(name: str) -> None:
    path = str(CORPUS / "valid" / name)
    report, ok = check_config([path])
    assert ok, report
    assert report.startswith(f"Checking '{path}'  SUCCESS\nFound:\n - global config\n - route\n")


@pytest.mark.parametrize("name", INVALID)
def test_invalid_configs_fail_with_alertmanagers_message(name: str) -> None:
    path = str(CORPUS / "invalid" / name)
    report, ok = check_config([path])
    assert not ok
    assert report == f"Checking '{path}'  FAILED: {EXPECTED_FAILURES[name]}\n"


def amtool_accepts(path: Path) -> bool:
    if not Path(AMTOOL).exists():
        pytest.fail(
            f"{AMTOOL} is missing: install Debian's prometheus-alertmanager package "
            "(apt-get install prometheus-alertmanager), which ships amtool, to compare verdicts"
        )
    done = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


@pytest.mark.parametrize(
    ("kind", "name"),
    [("valid", n) for n in VALID if n not in NEWER_THAN_AMTOOL] + [("invalid", n) for n in INVALID],
)
def test_amtool_gives_the_same_verdict(kind: str, name: str) -> None:
    path = CORPUS / kind / name
    _, ok = check_config([str(path)])
    assert amtool_accepts(path) == ok == (kind == "valid")


@pytest.mark.parametrize("name", sorted(NEWER_THAN_AMTOOL))
def test_configs_newer_than_amtool_are_valid_for_alerter(name: str) -> None:
    assert name in VALID
    assert check_config([str(CORPUS / "valid" / name)])[1]


def test_report_has_amtools_shape(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.tmpl").write_text('{{ define "a" }}{{ if .X }}x{{ else }}y{{ end }}{{ end }}\n')
    good = tmp_path / "am.yml"
    good.write_text(
        "templates: ['t/*.tmpl']\nroute: {receiver: a}\n"
        "inhibit_rules: [{equal: [x]}]\nreceivers: [{name: a}]\n"
    )
    bad = CORPUS / "invalid" / "root_continue.yml"
    report, ok = check_config([str(good), str(bad)])
    assert not ok
    assert report == (
        f"Checking '{good}'  SUCCESS\n"
        "Found:\n"
        " - global config\n"
        " - route\n"
        " - 1 inhibit rules\n"
        " - 1 receivers\n"
        " - 1 templates\n"
        "  SUCCESS\n"
        "\n"
        f"Checking '{bad}'  FAILED: cannot have continue in root route\n"
    )
    assert check_config([str(good)]) == (report.split("\n\n")[0] + "\n", True)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ('{{ define "a" }}never closed\n', "template: broken.tmpl:2: unexpected EOF"),
        ("{{ if .X }}\n\n", "template: broken.tmpl:3: unexpected EOF"),
        ("line one\n{{ end }}\n", "template: broken.tmpl:2: unexpected {{end}}"),
        ("ok {{ .X }}\n{{ .Y \n", "template: broken.tmpl:3: unclosed action started at broken.tmpl:2"),
    ],
)
def test_broken_templates_fail_the_check(tmp_path: Path, template: str, problem: str) -> None:
    (tmp_path / "broken.tmpl").write_text(template)
    path = tmp_path / "am.yml"
    path.write_text("templates: ['*.tmpl']\nroute: {receiver: a}\nreceivers: [{name: a}]\n")
    report, ok = check_config([str(path)])
    assert not ok
    assert report.endswith(f" - 1 templates\n  FAILED: {problem}\n")
    assert amtool_accepts(path) is False


def test_templates_glob_matching_nothing_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text("templates: ['none/*.tmpl']\nroute: {receiver: a}\nreceivers: [{name: a}]\n")
    assert check_config([str(path)])[1] is True
    assert amtool_accepts(path) is True
