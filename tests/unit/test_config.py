"""Loading alertmanager.yml: strict decoding, Alertmanager's validation messages, defaults,
inheritance, the older config forms, and writing the config back with secrets redacted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from app.config import (
    Authorization,
    Config,
    ConfigError,
    Header,
    TimeInterval,
    TimeRange,
    load_config,
    load_config_file,
)
from app.matchers import MODE_CLASSIC, Matcher

CORPUS = Path(__file__).resolve().parent.parent / "configs"


def load(text: str, **kwargs: str) -> Config:
    return load_config(textwrap.dedent(text), **kwargs)


def error(text: str, **kwargs: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(text, **kwargs)
    return str(err.value)


MINIMAL = """
route:
  receiver: default
receivers:
  - name: default
"""


def test_seed_email_config_loads_with_alertmanager_defaults() -> None:
    config = load_config_file(str(CORPUS / "valid" / "seed_email.yml"))
    assert config.global_.resolve_timeout == 300.0
    assert config.route.receiver == "team-Toan"
    assert config.route.group_by == ["alertname", "datacenter", "app"]
    assert (config.route.group_wait, config.route.group_interval, config.route.repeat_interval) == (
        30,
        300,
        14400,
    )
    [email] = config.receivers["team-Toan"].email_configs
    assert email.to == email.from_ == "toantd1202@gmail.com"
    assert email.smarthost == ("smtp.gmail.com", 587)
    assert (email.auth_username, email.auth_identity, email.auth_password) == (
        "toantd1202@gmail.com",
        "toantd1202@gmail.com",
        "PASSWORD",
    )
    assert email.hello == "localhost" and email.require_tls is True and email.send_resolved is False
    assert email.headers == {
        "Subject": '{{ template "email.default.subject" . }}',
        "To": "toantd1202@gmail.com",
        "From": "toantd1202@gmail.com",
    }
    assert config.receivers["team-Toan"].integrations() == [("email", 0, email)]


# --- strict decoding -------------------------------------------------------------------------------


def test_unknown_fields_are_reported_with_line_and_go_type() -> None:
    message = error(
        """
        route:
          receiver: default
          foo: 1
        receivers:
          - name: default
            webhook_configs:
              - url: http://x.example/
                sendResolved: true
        time_intervals:
          - name: t
            time_intervals:
              - weekday: [monday]
                times: [{start_time: '01:00', end: '02:00'}]
        """
    )
    assert message == (
        "yaml: unmarshal errors:\n"
        "  line 4: field foo not found in type config.plain\n"
        "  line 9: field sendResolved not found in type webhook.plain\n"
        "  line 13: field weekday not found in type timeinterval.TimeInterval\n"
        "  line 14: field end not found in type timeinterval.yamlTimeRange"
    )


def test_wrong_kinds_and_repeated_fields_are_type_errors() -> None:
    message = error(
        """
        route:
          receiver: default
          receiver: other
          group_by: alertname
          continue: "yes"
        receivers:
          - name: default
            webhook_configs: [{url: 'http://a.example/', max_alerts: many, send_resolved: [x]}]
        """
    )
    assert message.splitlines()[1:] == [
        "  line 4: field receiver already set in type config.plain",
        "  line 5: cannot unmarshal !!str `alertname` into []string",
        "  line 6: cannot unmarshal !!str `yes` into bool",
        "  line 9: cannot unmarshal !!str `many` into uint64",
        "  line 9: cannot unmarshal !!seq into bool",
    ]


def test_scalars_of_any_kind_are_accepted_as_strings() -> None:
    config = load("route: {receiver: 123}\nreceivers: [{name: 123}]\n")
    assert config.route.receiver == "123" and list(config.receivers) == ["123"]


def test_a_check_error_wins_over_type_errors() -> None:
    # yaml.v2 stops at the first error a struct's own check raises, dropping collected type errors.
    assert (
        error(
            """
            route: {receiver: a, foo: 1}
            receivers: [{name: a, email_configs: [{from: x}]}]
            """
        )
        == "missing to address in email config"
    )


def test_document_level_errors() -> None:
    assert error("") == "no route provided in config"
    assert error("# only a comment\n") == "no route provided in config"
    assert error("- a\n") == "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into config.plain"
    assert error("global:\nreceivers: []\n") == "no routes provided"
    assert error("route:\n  receiver: a\n   group_by: [x]\n").startswith(
        "yaml: line 3: mapping values are not"
    )


# --- validation messages ----------------------------------------------------------------------------

BASE = "route: {receiver: a}\nreceivers: [{name: a}]"


def interval(spec: str) -> str:
    """A config defining time interval `t` with one interval spec."""
    return f"time_intervals: [{{name: t, time_intervals: [{spec}]}}]\n{BASE}"


def receiver(spec: str) -> str:
    """A config whose only receiver `a` has the given integrations."""
    return f"route: {{receiver: a}}\nreceivers: [{{name: a, {spec}}}]"


CASES = {
    "undefined receiver": (
        "route: {receiver: a, routes: [{receiver: x}]}\nreceivers: [{name: a}]",
        'undefined receiver "x" used in route',
    ),
    "duplicate receiver": (
        "route: {receiver: a}\nreceivers: [{name: a}, {name: a}]",
        'notification config name "a" is not unique',
    ),
    "root matchers": (
        "route: {receiver: a, matchers: [x=y]}\nreceivers: [{name: a}]",
        "root route must not have any matchers",
    ),
    "root match": (
        "route: {receiver: a, match: {x: y}}\nreceivers: [{name: a}]",
        "root route must not have any matchers",
    ),
    "root match_re": (
        "route: {receiver: a, match_re: {x: y}}\nreceivers: [{name: a}]",
        "root route must not have any matchers",
    ),
    "root receiver": (
        "route: {group_by: [a]}\nreceivers: [{name: a}]",
        "root route must specify a default receiver",
    ),
    "root continue": (
        "route: {receiver: a, continue: true}\nreceivers: [{name: a}]",
        "cannot have continue in root route",
    ),
    "root mute": (
        "route: {receiver: a, mute_time_intervals: [t]}\ntime_intervals: [{name: t}]\nreceivers: [{name: a}]",
        "root route must not have any mute time intervals",
    ),
    "root active": (
        "time_intervals: [{name: t}]\nroute: {receiver: a, active_time_intervals: [t]}\n"
        "receivers: [{name: a}]",
        "root route must not have any active time intervals",
    ),
    "email to": (
        "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{from: f, smarthost: 'h:25'}]}]",
        "missing to address in email config",
    ),
    "email smarthost": (
        "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: t, from: f}]}]",
        "no global SMTP smarthost set",
    ),
    "email from": (
        "global: {smtp_smarthost: 'h:25'}\n" + receiver("email_configs: [{to: t}]"),
        "no global SMTP from set",
    ),
    "email null": (
        "route: {receiver: a}\nreceivers: [{name: a, email_configs: [null]}]",
        "missing email config",
    ),
    "email headers": (
        "global: {smtp_smarthost: 'h:25', smtp_from: f}\nroute: {receiver: a}\n"
        "receivers: [{name: a, email_configs: [{to: t, headers: {subject: x, Subject: y}}]}]",
        'duplicate header "Subject" in email config',
    ),
    "smarthost port": (
        "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: t, from: f, smarthost: 'h:'}]}]",
        'address "h:": port cannot be empty',
    ),
    "webhook url": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{max_alerts: 1}]}]",
        "one of url or url_file must be configured",
    ),
    "webhook both": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'http://h/', url_file: f}]}]",
        "at most one of url & url_file must be configured",
    ),
    "webhook null": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [null]}]",
        "missing webhook config",
    ),
    "webhook scheme": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'ftp://h/'}]}]",
        'invalid URL: unsupported scheme "ftp" for URL',
    ),
    "webhook host": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'http:///path'}]}]",
        "invalid URL: missing host for URL",
    ),
    "webhook port": (
        receiver("webhook_configs: [{url: 'http://h:http/'}]"),
        'invalid URL: invalid port ":http" after host',
    ),
    "webhook timeout": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'http://h/', timeout: 1d}]}]",
        "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `1d` into time.Duration",
    ),
    "receiver name": (
        "route: {receiver: a}\nreceivers: [{name: a}, {webhook_configs: []}]",
        "missing name in receiver",
    ),
    "receiver label": (
        "route: {receiver: a}\nreceivers: [{name: a, labels: {name: b}}]",
        'receiver label "name" must match receiver name "a", got "b"',
    ),
    "bad matcher": (
        "route: {receiver: a, routes: [{matchers: ['a!b']}]}\nreceivers: [{name: a}]",
        "bad matcher format: a!b",
    ),
    "matchers not a list": (
        "route: {receiver: a, routes: [{matchers: 'a=b'}]}\nreceivers: [{name: a}]",
        "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `a=b` into []string",
    ),
    "bad match_re": (
        "route: {receiver: a, routes: [{match_re: {x: '(a'}}]}\nreceivers: [{name: a}]",
        "error parsing regexp: missing closing ): `^(?:(a)$`",
    ),
    "huge match_re": (
        "route: {receiver: a, routes: [{match_re: {x: '((a{1000}){1000}){1000}'}}]}\nreceivers: [{name: a}]",
        "error parsing regexp: invalid repeat count: `{1000}`",
    ),
    "null match_re": (
        "route: {receiver: a, routes: [{match_re: {x: }}]}\nreceivers: [{name: a}]",
        'invalid regexp value for "x"',
    ),
    "match label": (
        "route: {receiver: a, routes: [{match: {a-b: c}}]}\nreceivers: [{name: a}]",
        'invalid label name "a-b"',
    ),
    "bad duration": (
        "route: {receiver: a, group_wait: 1.5h}\nreceivers: [{name: a}]",
        'unknown unit "." in duration "1.5h"',
    ),
    "negative duration": (
        "route: {receiver: a, group_wait: -1s}\nreceivers: [{name: a}]",
        'not a valid duration string: "-1s"',
    ),
    "empty duration": (
        "global: {resolve_timeout: ''}\nroute: {receiver: a}\nreceivers: [{name: a}]",
        "empty duration string",
    ),
    "zero group_interval": (
        "route: {receiver: a, routes: [{group_interval: 0s}]}\nreceivers: [{name: a}]",
        "group_interval cannot be zero",
    ),
    "zero repeat_interval": (
        "route: {receiver: a, repeat_interval: 0}\nreceivers: [{name: a}]",
        "repeat_interval cannot be zero",
    ),
    "group_by wildcard": (
        "route: {receiver: a, group_by: ['...', x]}\nreceivers: [{name: a}]",
        "cannot have wildcard group_by (`...`) and other labels at the same time",
    ),
    "group_by duplicate": (
        "route: {receiver: a, group_by: [x, x]}\nreceivers: [{name: a}]",
        'duplicated label "x" in group_by',
    ),
    "group_by empty name": (
        "route: {receiver: a, group_by: ['']}\nreceivers: [{name: a}]",
        'invalid label name "" in group_by list',
    ),
    "undefined interval": (
        "route: {receiver: a, routes: [{active_time_intervals: [t]}]}\nreceivers: [{name: a}]",
        'undefined time interval "t" used in route',
    ),
    "interval name": (
        "time_intervals: [{time_intervals: []}]\nroute: {receiver: a}\nreceivers: [{name: a}]",
        "missing name in time interval",
    ),
    "mute interval name": (
        "mute_time_intervals: [{time_intervals: []}]\nroute: {receiver: a}\nreceivers: [{name: a}]",
        "missing name in mute time interval",
    ),
    "interval unique": (
        "mute_time_intervals: [{name: t}]\ntime_intervals: [{name: t}]\n" + BASE,
        'time interval "t" is not unique',
    ),
    "mute interval unique": (
        "mute_time_intervals: [{name: t}, {name: t}]\nroute: {receiver: a}\nreceivers: [{name: a}]",
        'mute time interval "t" is not unique',
    ),
    "weekday order": (
        interval("{weekdays: ['saturday:sunday']}"),
        "start day cannot be before end day",
    ),
    "day of month": (
        interval("{days_of_month: ['0']}"),
        "0 is not a valid day of the month: out of range",
    ),
    "day of month sign": (
        interval("{days_of_month: ['-3:5']}"),
        "end day must be negative if start day is negative",
    ),
    "month order": (
        interval("{months: ['may:march']}"),
        "end month march is before start month may",
    ),
    "bad month": (
        interval("{months: ['smarch']}"),
        "smarch is not a valid month",
    ),
    "year": (
        interval("{years: ['2030:2020']}"),
        "end year 2020 is before start year 2030",
    ),
    "times order": (
        "time_intervals: [{name: t, time_intervals: [{times: [{start_time: '10:00', end_time: '09:00'}]}]}]\n"
        "route: {receiver: a}\nreceivers: [{name: a}]",
        "start time cannot be equal or greater than end time",
    ),
    "times missing": (
        interval("{times: [{start_time: '10:00'}]}"),
        "both start and end times must be provided",
    ),
    "location": (
        interval("{location: Nowhere/City}"),
        "unknown time zone Nowhere/City",
    ),
    "inhibit equal": (
        "route: {receiver: a}\ninhibit_rules: [{equal: ['']}]\nreceivers: [{name: a}]",
        'invalid label name "" in equal list',
    ),
    "inhibit source_match": (
        "route: {receiver: a}\ninhibit_rules: [{source_match: {'1x': y}}]\nreceivers: [{name: a}]",
        'invalid label name "1x"',
    ),
    "http bearer both": (
        receiver(
            "webhook_configs: [{url: 'http://h/', http_config: {bearer_token: x, bearer_token_file: y}}]"
        ),
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    "http auth and bearer": (
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'http://h/', "
        "http_config: {authorization: {credentials: x}, bearer_token: y}}]}]",
        "authorization is not compatible with bearer_token & bearer_token_file",
    ),
    "http basic authorization": (
        "global: {http_config: {authorization: {type: Basic, credentials: x}}}\n" + BASE,
        'authorization type cannot be set to "basic", use "basic_auth" instead',
    ),
    "http no_proxy": (
        "global: {http_config: {no_proxy: localhost}}\nroute: {receiver: a}\nreceivers: [{name: a}]",
        "if no_proxy is configured, proxy_url must also be configured",
    ),
    "tls cert without key": (
        "global: {http_config: {tls_config: {cert_file: c.pem}}}\n" + BASE,
        "exactly one of key or key_file must be configured when a client certificate is configured",
    ),
    "global smtp password both": (
        "global: {smtp_auth_password: x, smtp_auth_password_file: y}\n" + BASE,
        "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
    ),
    "global url": (
        "global: {pagerduty_url: 'ftp://x'}\nroute: {receiver: a}\nreceivers: [{name: a}]",
        'unsupported scheme "ftp" for URL',
    ),
    "slack global": (
        "route: {receiver: a}\nreceivers: [{name: a, slack_configs: [{channel: '#x'}]}]",
        "no Slack API URL nor App token set either inline or in a file",
    ),
    "opsgenie key": (
        "route: {receiver: a}\nreceivers: [{name: a, opsgenie_configs: [null]}]",
        "no global OpsGenie API Key set either inline or in a file",
    ),
    "pagerduty key": (
        "route: {receiver: a}\nreceivers: [{name: a, pagerduty_configs: [{severity: x}]}]",
        "missing service or routing key in PagerDuty config",
    ),
    "pagerduty null": (
        "route: {receiver: a}\nreceivers: [{name: a, pagerduty_configs: [null]}]",
        "missing pagerduty config",
    ),
    "telegram chat": (
        "route: {receiver: a}\nreceivers: [{name: a, telegram_configs: [{bot_token: x}]}]",
        "missing chat_id or chat_id_file on telegram_config",
    ),
    "sns target": (
        "route: {receiver: a}\nreceivers: [{name: a, sns_configs: [{subject: x}]}]",
        "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
    ),
    "webex auth": (
        "route: {receiver: a}\nreceivers: [{name: a, webex_configs: [{room_id: r}]}]",
        "missing webex_configs.http_config.authorization",
    ),
    "discord url": (
        "route: {receiver: a}\nreceivers: [{name: a, discord_configs: [{title: t}]}]",
        "one of webhook_url or webhook_url_file must be configured",
    ),
    "unknown integration field": (
        receiver("pushover_configs: [{user_key: u, token: t, colour: red}]"),
        "yaml: unmarshal errors:\n  line 2: field colour not found in type pushover.plain",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validation_messages_match_alertmanager(case: str) -> None:
    text, message = CASES[case]
    assert error(text) == message


def test_receiver_problems_are_reported_before_route_problems() -> None:
    text = "route: {receiver: nobody}\nreceivers: [{name: a, webhook_configs: [null]}]"
    assert error(text) == "missing webhook config"


def test_undefined_receivers_are_found_children_first() -> None:
    text = "route: {receiver: x, routes: [{receiver: y, routes: [{receiver: z}]}]}\nreceivers: [{name: a}]"
    assert error(text) == 'undefined receiver "z" used in route'


def test_classic_mode_restricts_label_names() -> None:
    text = "route: {receiver: a, group_by: [service.name]}\nreceivers: [{name: a}]"
    assert load(text).route.group_by == ["service.name"]
    assert error(text, matcher_mode=MODE_CLASSIC) == 'invalid label name "service.name" in group_by list'
    matchers = "route: {receiver: a, routes: [{matchers: ['\"a.b\"=c']}]}\nreceivers: [{name: a}]"
    assert load(matchers).route.routes[0].matchers == [Matcher("a.b", "=", "c")]
    assert error(matchers, matcher_mode=MODE_CLASSIC) == 'bad matcher format: "a.b"=c'


# --- defaults and inheritance -------------------------------------------------------------------


def test_global_smtp_defaults_fill_empty_email_fields() -> None:
    config = load_config_file(str(CORPUS / "valid" / "email_global_smtp.yml"))
    first, second = config.receivers["team-mails"].email_configs
    assert first.smarthost == ("mail.example.org", 25)
    assert first.from_ == "alertmanager@example.org" and first.hello == "am.example.org"
    assert (first.auth_username, first.auth_password) == ("alertmanager", "mail-password")
    assert first.require_tls is False  # smtp_require_tls: false
    assert second.require_tls is True and second.send_resolved is True
    assert load(MINIMAL).global_.smtp_require_tls is True


def test_an_empty_smarthost_takes_the_global_one() -> None:
    config = load(
        "global: {smtp_smarthost: 'mx:2525', smtp_from: f}\n"
        + receiver("email_configs: [{to: t, smarthost: ''}]")
    )
    assert config.receivers["a"].email_configs[0].smarthost == ("mx", 2525)


def test_tracing_is_refused_as_alerter_exports_no_traces() -> None:
    message = error("tracing: {endpoint: 'otel:4317', insecure: true}\n" + BASE)
    assert message.startswith("tracing: alerter does not export OpenTelemetry traces")
    assert "remove the tracing section" in message
    assert "tracing" not in load("tracing:\n" + BASE).redacted_yaml()  # null: nothing configured


def test_event_recorder_outputs_are_refused_and_an_empty_section_loads() -> None:
    message = error("event_recorder: {file_outputs: [{path: /var/log/events.jsonl}]}\n" + BASE)
    assert message.startswith("event_recorder: alerter does not record events, so file_outputs")
    assert "--enable-feature=event-recorder" in message
    config = load("event_recorder: {stdout_outputs: []}\n" + BASE)
    assert "event_recorder" not in config.redacted_yaml()  # Alertmanager omits an empty section
    assert "field stdout not found in type eventrecorder.Config" in error(
        "event_recorder: {stdout: 1}\n" + BASE
    )


def test_email_keeps_its_own_settings() -> None:
    config = load_config_file(str(CORPUS / "valid" / "email_tls_headers.yml"))
    [email] = config.receivers["mail"].email_configs
    assert email.smarthost == ("2001:db8::25", 465)
    assert email.auth_password == "" and email.auth_password_file == "/run/secrets/smtp"
    assert email.tls_config.insecure_skip_verify is True and email.require_tls is False
    assert email.headers["Subject"] == "[{{ .Status }}] {{ .GroupLabels.alertname }}"
    assert email.headers["Reply-To"] == "noc@example.org"
    assert email.text == "firing: {{ .Alerts.Firing | len }}"


def test_webhooks_inherit_the_global_http_config_and_bearer_tokens_become_authorization(
    tmp_path: Path,
) -> None:
    path = tmp_path / "am.yml"
    path.write_text((CORPUS / "valid" / "global_http_config.yml").read_text())
    config = load_config_file(str(path))
    inherited, own = config.receivers["relay"].webhook_configs
    assert inherited.http_config is config.global_.http_config
    assert inherited.http_config.authorization == Authorization(
        "Bearer", "", str(tmp_path / "secrets" / "bearer")
    )
    assert inherited.http_config.tls_config.insecure_skip_verify is True
    assert own.http_config.authorization is None and own.http_config.tls_config.insecure_skip_verify is False
    assert inherited.send_resolved is True and inherited.max_alerts == 0 and inherited.timeout == 0


def test_webhook_http_settings() -> None:
    config = load_config_file(str(CORPUS / "valid" / "webhook_http_config.yml"))
    basic, bearer, authz = config.receivers["secured"].webhook_configs
    assert (
        basic.http_config.basic_auth is not None and basic.http_config.basic_auth.password == "s3cr3t-basic"
    )
    assert basic.http_config.follow_redirects is False
    assert basic.http_config.tls_config.min_version == "TLS12"
    assert basic.http_config.tls_config.ca_file.endswith("tests/configs/valid/certs/ca.pem")
    assert bearer.http_config.authorization == Authorization("Bearer", "s3cr3t-bearer", "")
    assert bearer.http_config.proxy_url == "http://proxy.internal:3128"
    assert authz.http_config.authorization == Authorization("Token", "", "/etc/alertmanager/token")


def test_oauth2_http_headers_and_proxy_connect_header() -> None:
    config = load_config_file(str(CORPUS / "valid" / "http_config_oauth2_headers.yml"))
    http = config.receivers["partner"].webhook_configs[0].http_config
    oauth = http.oauth2
    assert oauth is not None
    assert (oauth.client_id, oauth.client_secret, oauth.scopes) == (
        "alerter",
        "oauth-client-s3cr3t",
        ["alerts.write", "alerts.read"],
    )
    assert oauth.token_url == "https://idp.example.org/oauth2/token"
    assert oauth.endpoint_params == {"audience": "partner-api"}
    # Relative files are taken from the config's directory, the oauth2 block's TLS files too.
    assert oauth.tls_config.ca_file == str(CORPUS / "valid" / "certs" / "idp-ca.pem")
    assert oauth.proxy_connect_header == {"Proxy-Token": ["oauth-proxy-s3cr3t"]}
    assert http.http_headers == {
        "X-Team": Header(values=["sre"]),
        "X-Api-Key": Header(secrets=["header-s3cr3t"]),
        "X-Tenant": Header(files=[str(CORPUS / "valid" / "tenant-id")]),
    }
    assert http.proxy_connect_header == {"Proxy-Authorization-Token": ["connect-s3cr3t", "connect-s3cr3t-2"]}
    written = yaml.safe_load(config.redacted_yaml())["receivers"][0]["webhook_configs"][0]["http_config"]
    assert written["oauth2"]["client_secret"] == "<secret>"
    assert written["oauth2"]["proxy_connect_header"] == {"Proxy-Token": ["<secret>"]}
    assert written["http_headers"]["X-Api-Key"] == {"secrets": ["<secret>"]}
    assert written["http_headers"]["X-Team"] == {"values": ["sre"]}
    assert written["proxy_connect_header"] == {"Proxy-Authorization-Token": ["<secret>", "<secret>"]}


def webhook_http(http_config: str) -> str:
    """A config whose webhook has the given http_config (YAML flow style)."""
    return receiver(f"webhook_configs: [{{url: 'http://h/', http_config: {http_config}}}]")


OAUTH = "client_id: c, client_secret: s, token_url: 'https://idp/token'"

HTTP_CONFIG_REFUSALS = {
    # prometheus/common's own checks, with its messages.
    "oauth2 without client_id": (
        "{oauth2: {token_url: 'https://idp/t'}}",
        "oauth2 client_id must be configured",
    ),
    "oauth2 empty": ("{oauth2: {}}", "oauth2 client_id must be configured"),
    "oauth2 without token_url": ("{oauth2: {client_id: c}}", "oauth2 token_url must be configured"),
    "oauth2 secret twice": (
        f"{{oauth2: {{{OAUTH}, client_secret_file: f}}}}",
        "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured "
        "using grant-type=client_credentials",
    ),
    "oauth2 and basic_auth": (
        f"{{oauth2: {{{OAUTH}}}, basic_auth: {{username: u}}}}",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    ),
    "oauth2 and bearer": (
        f"{{oauth2: {{{OAUTH}}}, bearer_token: b}}",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    "oauth2 no_proxy alone": (
        f"{{oauth2: {{{OAUTH}, no_proxy: x}}}}",
        "if no_proxy is configured, proxy_url must also be configured",
    ),
    "oauth2 unknown field": (
        f"{{oauth2: {{{OAUTH}, client_secrets: x}}}}",
        "yaml: unmarshal errors:\n  line 2: field client_secrets not found in type config.plain",
    ),
    "reserved header": (
        "{http_headers: {authorization: {values: [x]}}}",
        'setting header "Authorization" is not allowed',
    ),
    "reserved header user agent": (
        "{http_headers: {User-Agent: {values: [x]}}}",
        'setting header "User-Agent" is not allowed',
    ),
    "header unknown field": (
        "{http_headers: {X-A: {value: [x]}}}",
        "yaml: unmarshal errors:\n  line 2: field value not found in type config.Header",
    ),
    "headers not a map": (
        "{http_headers: [x]}",
        "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into config.Headers",
    ),
    "connect header without proxy": (
        "{proxy_connect_header: {X-P: [x]}}",
        "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
    ),
    "connect header not a list": (
        "{proxy_url: 'http://p:1', proxy_connect_header: {X-P: x}}",
        "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `x` into []config.Secret",
    ),
    # What alerter cannot honour, refused naming the field and what to do.
    "oauth2 jwt-bearer": (
        "{oauth2: {client_id: c, token_url: 'https://idp/t', "
        "grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer'}}",
        "oauth2 grant_type urn:ietf:params:oauth:grant-type:jwt-bearer is not supported by alerter; use the "
        "client credentials grant (client_id with client_secret or client_secret_file)",
    ),
    "oauth2 secret ref": (
        "{oauth2: {client_id: c, token_url: 'https://idp/t', client_secret_ref: vault}}",
        "oauth2 client_secret_ref: alerter has no secret manager (Alertmanager has none either and fails to "
        "build the receiver); use client_secret or client_secret_file",
    ),
    "oauth2 jwt-only field": (
        f"{{oauth2: {{{OAUTH}, audience: x}}}}",
        "oauth2 audience is only read by the jwt-bearer grant, which alerter does not support; remove it",
    ),
    "oauth2 scope twice": (
        f"{{oauth2: {{{OAUTH}, scopes: [a], endpoint_params: {{scope: b}}}}}}",
        'oauth2 endpoint_params cannot set "scope" when scopes is set (the token request would always fail); '
        "list the scopes in one of them",
    ),
    "oauth2 token_url scheme": (
        "{oauth2: {client_id: c, token_url: 'idp.example/token'}}",
        'oauth2 token_url: unsupported scheme "" for URL',
    ),
    "oauth2 connect header value": (
        f"{{oauth2: {{{OAUTH}, proxy_url: 'http://p:1', proxy_connect_header: {{X-P: [\"a\\nb\"]}}}}}}",
        'proxy_connect_header: a value of "X-P" holds a line break or control character, '
        "which HTTP cannot carry",
    ),
    "header name": (
        "{http_headers: {'X Team': {values: [x]}}}",
        'http_headers: "X Team" is not a valid HTTP header name',
    ),
    "header secret line break": (
        '{http_headers: {X-Key: {secrets: ["a\\r\\nInjected: 1"]}}}',
        'http_headers: a value of "X-Key" holds a line break or control character, which HTTP cannot carry',
    ),
    "connect header name": (
        "{proxy_url: 'http://p:1', proxy_connect_header: {'X:P': [x]}}",
        'proxy_connect_header: "X:P" is not a valid HTTP header name',
    ),
}


@pytest.mark.parametrize("case", sorted(HTTP_CONFIG_REFUSALS))
def test_http_config_settings_alerter_cannot_send_are_refused(case: str) -> None:
    http_config, message = HTTP_CONFIG_REFUSALS[case]
    assert error(webhook_http(http_config)) == message


def test_refused_secrets_stay_out_of_the_message() -> None:
    message = error(webhook_http('{http_headers: {X-Key: {secrets: ["hunter2\\n"]}}}'))
    assert "hunter2" not in message


def test_a_templated_webhook_url_must_parse_as_a_template() -> None:
    text = receiver("webhook_configs: [{url: 'http://hooks.test/{{ .GroupLabels.team '}]")
    assert error(text).startswith("invalid template syntax: template: :1: unclosed action")
    config = load(receiver("webhook_configs: [{url: 'http://hooks.test/{{ .GroupLabels.team | toLower }}'}]"))
    assert (
        config.receivers["a"].webhook_configs[0].url == "http://hooks.test/{{ .GroupLabels.team | toLower }}"
    )


def test_oauth2_other_grant_types_are_client_credentials_as_in_prometheus_common() -> None:
    config = load(webhook_http(f"{{oauth2: {{{OAUTH}, grant_type: client_credentials}}}}"))
    oauth = config.receivers["a"].webhook_configs[0].http_config.oauth2
    assert oauth is not None and oauth.grant_type == "client_credentials"


def test_newer_webhook_fields() -> None:
    config = load_config_file(str(CORPUS / "valid" / "newer_webhook_fields.yml"))
    by_file, timed = config.receivers["hooks"].webhook_configs
    assert (by_file.url, by_file.url_file, by_file.timeout) == ("", "/etc/alertmanager/webhook-url", 15.0)
    assert timed.timeout == 1.5


def test_routes_inherit_receiver_grouping_and_timers() -> None:
    config = load_config_file(str(CORPUS / "valid" / "nested_routes.yml"))
    root = config.route
    dba, web, staging = root.routes
    pager, chat = dba.routes
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (45, 300, 14400)
    assert (dba.receiver, dba.group_by, dba.group_wait, dba.group_interval) == (
        "dba",
        ["alertname", "cluster"],
        45,
        600,
    )
    assert (pager.group_interval, pager.repeat_interval, pager.continue_) == (600, 1800, True)
    assert (chat.receiver, chat.repeat_interval) == ("dba-chat", 14400)
    assert web.group_by == ["alertname", "instance"] and web.continue_
    assert staging.group_by == [] and not staging.group_by_all  # `group_by: []` overrides the parent
    assert [r.index for r in root.routes] == [0, 1, 2] and [r.index for r in dba.routes] == [0, 1]
    assert root.parent is None and dba.parent is root and pager.parent is dba


def test_receiverless_routes_take_the_parents_receiver() -> None:
    config = load(
        "route: {receiver: a, routes: [{matchers: [x=y], routes: [{matchers: [z=w]}]}]}\n"
        "receivers: [{name: a}]\n"
    )
    assert config.route.routes[0].receiver == config.route.routes[0].routes[0].receiver == "a"


def test_group_by_all_is_inherited_until_a_child_lists_labels() -> None:
    config = load(
        """
        route:
          receiver: a
          group_by: [cluster]
          routes:
            - matchers: [env=parent]
              group_by: ['...']
              routes:
                - matchers: [env=child1]
                - matchers: [env=child2]
                  group_by: [foo]
        receivers: [{name: a}]
        """
    )
    parent = config.route.routes[0]
    child1, child2 = parent.routes
    assert parent.group_by_all and child1.group_by_all and not child2.group_by_all
    assert child2.group_by == ["foo"]


def test_time_intervals_on_routes_are_not_inherited_and_labels_merge() -> None:
    config = load(
        """
        time_intervals: [{name: t}]
        route:
          receiver: a
          routes:
            - matchers: [x=y]
              mute_time_intervals: [t]
              labels: {team: a, tier: one}
              routes:
                - matchers: [z=w]
                  labels: {tier: two}
        receivers: [{name: a}]
        """
    )
    parent = config.route.routes[0]
    assert parent.mute_time_intervals == ["t"] and parent.routes[0].mute_time_intervals == []
    assert parent.routes[0].labels == {"team": "a", "tier": "two"}


def test_match_and_match_re_fold_into_sorted_anchored_matchers() -> None:
    config = load_config_file(str(CORPUS / "valid" / "legacy_match.yml"))
    pager, team, mixed = config.route.routes
    assert pager.matchers == [Matcher("severity", "=", "page")]
    assert team.matchers == [
        Matcher("env", "=~", "^(?:prod|staging)$"),
        Matcher("service", "=~", "^(?:^(foo1|foo2|baz)$)$"),
    ]
    assert [str(m) for m in mixed.matchers] == ['component=~"^(?:db.*)$"', 'owner="team-a"', 'region="eu"']
    assert team.matchers[0].matches("staging") and not team.matchers[0].matches("staging2")


def test_inhibit_rules_fold_the_older_forms() -> None:
    config = load_config_file(str(CORPUS / "valid" / "inhibit_rules.yml"))
    new, old, watchdog = config.inhibit_rules
    assert new.source_matchers == [Matcher("severity", "=", "critical")]
    assert new.target_matchers == [Matcher("severity", "=~", "warning|info")]
    assert new.equal == ["alertname", "cluster"]
    assert old.source_matchers == [Matcher("alertname", "=", "NodeDown")]
    assert old.target_matchers == [Matcher("alertname", "=~", "^(?:.+)$")]
    assert watchdog.equal == [] and watchdog.target_matchers == [Matcher("alertname", "!=", "Watchdog")]


def test_time_intervals_from_both_sections() -> None:
    config = load_config_file(str(CORPUS / "valid" / "time_intervals.yml"))
    assert config.time_intervals["business-hours"] == [
        TimeInterval(times=[TimeRange(540, 1050)], weekdays=[(1, 5)], location="Europe/Paris")
    ]
    assert config.time_intervals["christmas"] == [
        TimeInterval(days_of_month=[(24, 26)], months=[(12, 12)]),
        TimeInterval(days_of_month=[(-1, -1)], months=[(12, 12)], years=[(2024, 2030)]),
    ]
    assert config.time_intervals["weekends"] == [TimeInterval(weekdays=[(6, 6), (0, 0)])]
    legacy = load_config_file(str(CORPUS / "valid" / "mute_time_intervals_legacy.yml"))
    assert legacy.time_intervals["maintenance"] == [
        TimeInterval(times=[TimeRange(120, 240)], weekdays=[(0, 0)])
    ]
    assert legacy.mute_time_interval_names == ["maintenance"]


def test_templates_are_resolved_against_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "am.yml"
    path.write_text("templates: ['tmpl/*.tmpl', '/abs/*.tmpl']\n" + MINIMAL)
    assert load_config_file(str(path)).templates == [
        str(tmp_path / "conf" / "tmpl" / "*.tmpl"),
        "/abs/*.tmpl",
    ]
    assert load("templates: ['tmpl/*.tmpl']\n" + MINIMAL).templates == ["tmpl/*.tmpl"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_file(str(tmp_path / "nope.yml"))
    assert str(err.value) == f"open {tmp_path / 'nope.yml'}: no such file or directory"


def test_other_integrations_are_kept_raw_with_defaults() -> None:
    config = load_config_file(str(CORPUS / "valid" / "other_integrations.yml"))
    slack = config.receivers["slack"].raw_integrations["slack_configs"][0].values
    assert slack["channel"] == "#alerts" and slack["send_resolved"] is True
    pd_new, pd_old = (c.values for c in config.receivers["pagerduty"].raw_integrations["pagerduty_configs"])
    assert pd_new["routing_key"] == "0123456789abcdef0123456789abcdef" and pd_new["send_resolved"] is True
    assert pd_old["http_config"] is config.global_.http_config
    assert set(config.receivers["misc"].raw_integrations) == {
        "victorops_configs",
        "pushover_configs",
        "wechat_configs",
        "telegram_configs",
        "sns_configs",
        "webex_configs",
        "discord_configs",
    }
    # Every one of them is an integration of its receiver, to be delivered (issue 12), not ignored.
    kinds = sorted(name for name, _, _ in config.receivers["misc"].integrations())
    assert kinds == ["discord", "pushover", "sns", "telegram", "victorops", "webex", "wechat"]
    assert config.global_.extra["slack_api_url"] == "https://hooks.slack.com/services/T000/B000/XXXX"


def test_yaml_anchors_and_merge_keys() -> None:
    config = load_config_file(str(CORPUS / "valid" / "anchors_merge.yml"))
    a, _, c = config.route.routes
    assert a.group_by == ["alertname", "service"]
    assert (c.receiver, c.group_wait, [str(m) for m in c.matchers]) == ("b", 60, ['team="c"'])
    hook_b = config.receivers["b"].webhook_configs[0]
    assert (hook_b.url, hook_b.max_alerts) == ("http://hooks.example.org/b", 5)


def test_receiver_labels_always_hold_the_name() -> None:
    config = load("route: {receiver: a}\nreceivers: [{name: a, labels: {team: x}}]")
    assert config.receivers["a"].labels == {"team": "x", "name": "a"}


# --- writing back, secrets ----------------------------------------------------------------------

SECRETS = [
    "PASSWORD",
    "mail-password",
    "s3cr3t-basic",
    "s3cr3t-bearer",
    "abc123",
    "T000/B000/XXXX",
    "og-key",
    "vo-key",
    "0123456789abcdef0123456789abcdef",
    "legacy-key",
    "pushover-user",
    "pushover-token",
    "wechat-secret",
    "123:abc",
    "aws-secret",
    "webex-token",
    "discord.com/api/webhooks",
    "oauth-client-s3cr3t",
    "oauth-proxy-s3cr3t",
    "header-s3cr3t",
    "connect-s3cr3t",
]


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "valid").glob("*.yml")))
def test_redacted_yaml_hides_every_secret_and_is_idempotent(name: str) -> None:
    config = load_config_file(str(CORPUS / "valid" / name))
    text = config.redacted_yaml()
    for secret in SECRETS:
        assert secret not in text
        assert secret not in repr(config)
    # Alertmanager's marshal idempotency: what it writes loads again and writes the same text.
    assert load_config(text).redacted_yaml() == text


def test_redacted_yaml_has_alertmanagers_shape() -> None:
    config = load_config_file(str(CORPUS / "valid" / "webhook_basic.yml"))
    shape = yaml.safe_load(config.redacted_yaml())
    assert list(shape) == ["global", "route", "receivers", "templates"]
    assert shape["global"]["resolve_timeout"] == "1m"
    assert shape["global"]["http_config"] == {"follow_redirects": True, "enable_http2": True}
    assert shape["global"]["smtp_require_tls"] is True
    assert shape["global"]["pagerduty_url"] == "https://events.pagerduty.com/v2/enqueue"
    assert shape["route"] == {
        "receiver": "ops-webhook",
        "group_by": ["alertname"],
        "continue": False,
        "group_wait": "10s",
        "group_interval": "1m",
        "repeat_interval": "2h",
    }
    first, second = shape["receivers"][0]["webhook_configs"]
    # Alertmanager always writes url_file and timeout, but they are newer than the amtool 0.25
    # that reads this back, so they are written only when set (tests/unit/test_config_writeback.py).
    assert first == {
        "send_resolved": True,
        "http_config": {"follow_redirects": True, "enable_http2": True},
        "url": "<secret>",
        "max_alerts": 0,
    }
    assert "labels" not in shape["receivers"][0]  # only the implicit name label
    assert "smtp_tls_config" not in shape["global"] and "slack_app_url" not in shape["global"]
    assert (second["send_resolved"], second["max_alerts"]) == (False, 20)
    assert shape["templates"] == []


def test_redacted_yaml_keeps_the_forms_the_file_used() -> None:
    config = load_config_file(str(CORPUS / "valid" / "legacy_match.yml"))
    routes = yaml.safe_load(config.redacted_yaml())["route"]["routes"]
    assert routes[1]["match_re"] == {"service": "^(foo1|foo2|baz)$", "env": "prod|staging"}
    assert routes[2]["matchers"] == ['region="eu"']
    email = yaml.safe_load(load_config_file(str(CORPUS / "valid" / "seed_email.yml")).redacted_yaml())
    [mail] = email["receivers"][0]["email_configs"]
    assert mail["auth_password"] == "<secret>"
    assert mail["html"] == '{{ template "email.default.html" . }}'
    assert mail["tls_config"] == {"insecure_skip_verify": False}
    intervals = yaml.safe_load(load_config_file(str(CORPUS / "valid" / "time_intervals.yml")).redacted_yaml())
    assert intervals["time_intervals"][0]["time_intervals"] == [
        {
            "times": [{"start_time": "09:00", "end_time": "17:30"}],
            "weekdays": ["monday:friday"],
            "location": "Europe/Paris",
        }
    ]
    assert intervals["time_intervals"][1]["time_intervals"][0] == {
        "days_of_month": ["24:26"],
        "months": ["12"],
    }


def test_secrets_stay_out_of_error_messages() -> None:
    message = error(
        "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'ftp://user:hunter2@h/?t=tok3n'}]}]"
    )
    assert "hunter2" not in message and "tok3n" not in message
    message = error(
        "global: {slack_api_url: 'gopher://x/hunter2'}\nroute: {receiver: a}\nreceivers: [{name: a}]"
    )
    assert "hunter2" not in message
