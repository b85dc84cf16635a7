"""The Jira integration against a local HTTP server that answers as Jira does: the search, then
create, update, reopen and resolve of the group's issue, the fields as Alertmanager fills them
(expected texts from Alertmanager's own tests), Cloud and Data Center search paths, ADF
descriptions on API v3, custom fields' types, limits, retryability and config checks."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.config import ConfigError, RawIntegration
from app.notify.errors import NotifyError
from app.notify.integrations.jira import send_jira
from app.template import Templates
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import integration
from tests.support.notifications import GROUP_KEY, alert, notification
from tests.support.ports import free_port
from tests.support.sendctx import send_ctx

LABEL = f"ALERT{{{hashlib.sha256(GROUP_KEY.encode()).hexdigest()}}}"
REOPEN, RESOLVE = "11", "21"


class FakeJira:
    """Jira's REST API as far as the integration uses it, with its issues in memory.

    `answers` holds (status, body) to give instead, in order, to the next requests.
    """

    def __init__(self) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.answers: deque[tuple[int, bytes]] = deque()

    def add(self, key: str, done: bool, labels: tuple[str, ...] = (LABEL,)) -> None:
        self.issues[key] = {"done": done, "fields": {"labels": list(labels)}}

    def __call__(self, req: ReceivedRequest) -> tuple[int, bytes, str]:
        if self.answers:
            status, body = self.answers.popleft()
            return status, body, "application/json"
        path = req.path.split("?")[0]
        if path.endswith(("/search", "/search/jql")):
            return self._search(req.json["jql"])
        if m := re.search(r"/issue/([A-Z]+-\d+)/transitions$", path):
            if req.method == "GET":
                names = [{"id": REOPEN, "name": "Reopen"}, {"id": RESOLVE, "name": "Done"}]
                return 200, orjson.dumps({"transitions": names}), "application/json"
            self.issues[m.group(1)]["done"] = req.json["transition"]["id"] == RESOLVE
            return 204, b"", "text/plain"
        if m := re.search(r"/issue/([A-Z]+-\d+)$", path):
            self.issues[m.group(1)]["fields"].update(req.json["fields"])
            return 204, b"", "text/plain"
        key = f"OPS-{len(self.issues) + 1}"
        self.issues[key] = {"done": False, "fields": req.json["fields"]}
        return 201, orjson.dumps({"id": "10001", "key": key}), "application/json"

    def _search(self, jql: str) -> tuple[int, bytes, str]:
        label = re.search(r'labels="([^"]*)"', jql)
        found = [
            {"key": k, "fields": {"status": {"statusCategory": {"key": "done" if i["done"] else "new"}}}}
            for k, i in self.issues.items()
            if label
            and label.group(1) in i["fields"]["labels"]
            and not (i["done"] and "statusCategory != Done" in jql)
        ]
        return 200, orjson.dumps({"issues": found}), "application/json"


@pytest.fixture
def jira() -> FakeJira:
    return FakeJira()


@pytest.fixture
def sink(jira: FakeJira):  # type: ignore[no-untyped-def]
    with HttpSink(responder=jira) as server:
        yield server


def config(sink: HttpSink, path: str = "rest/api/2", **item: Any) -> RawIntegration:
    values = {
        "api_url": sink.url + path,
        "project": "OPS",
        "issue_type": "Incident",
        "http_config": {"basic_auth": {"username": "bot@example.com", "password": "api-token"}},
        **item,
    }
    return integration("jira_configs", values)


def calls(sink: HttpSink) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sink.requests]


FIRING_DESCRIPTION = (
    "\n\n# Alerts Firing:\n\nLabels:\n  - alertname = test\n  - instance = vm1\n  - severity = critical\n\n"
    "Annotations:\n\nSource: http://prometheus.test/graph\n\n\n\n\n"
)


def test_a_firing_group_without_issue_creates_one_with_alertmanagers_fields(
    sink: HttpSink, jira: FakeJira
) -> None:
    cfg = config(sink, labels=["alertmanager", "{{ .GroupLabels.alertname }}"])
    n = notification(alert(annotations={}, alertname="test", instance="vm1", severity="critical"))

    send_jira(cfg, n, send_ctx(5))

    search, create = sink.requests
    assert calls(sink) == [("POST", "/rest/api/2/search"), ("POST", "/rest/api/2/issue")]
    assert search.json == {
        "fields": ["status"],
        "jql": f'statusCategory != Done and project="OPS" and labels="{LABEL}" '
        "order by status ASC,resolutiondate DESC",
        "maxResults": 2,
    }
    assert create.json == {
        "fields": {
            "description": FIRING_DESCRIPTION,
            "issuetype": {"name": "Incident"},
            "labels": sorted([LABEL, "alertmanager", "test"]),
            "priority": {"name": "High"},
            "project": {"key": "OPS"},
            "summary": "[FIRING:1] test (vm1 critical)",
        }
    }
    # Go's encoding/json: map keys sorted, HTML characters escaped, a final newline.
    assert create.body.startswith(b'{"fields":{"description":') and create.body.endswith(b"}}\n")
    for request in sink.requests:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Accept-Language"] == "en"
        token = base64.b64encode(b"bot@example.com:api-token").decode()
        assert request.headers["Authorization"] == f"Basic {token}"
    assert list(jira.issues) == ["OPS-1"]


def test_a_resolved_group_without_issue_sends_nothing_more(sink: HttpSink) -> None:
    send_jira(config(sink), notification(alert(False, alertname="test")), send_ctx(5))
    assert calls(sink) == [("POST", "/rest/api/2/search")]


def test_a_firing_group_updates_its_open_issue_and_moves_nothing(sink: HttpSink, jira: FakeJira) -> None:
    jira.add("OPS-7", done=False)
    cfg = config(sink, reopen_transition="Reopen", resolve_transition="Done")
    send_jira(cfg, notification(alert(alertname="test", instance="vm1")), send_ctx(5))
    assert calls(sink) == [("POST", "/rest/api/2/search"), ("PUT", "/rest/api/2/issue/OPS-7")]
    fields = sink.requests[1].json["fields"]
    assert fields["summary"] == "[FIRING:1] test (vm1)"
    assert "priority" not in fields  # no severity label: the default priority is empty


def test_a_partly_resolved_group_lists_both_parts(sink: HttpSink) -> None:
    n = notification(alert(alertname="test", instance="a"), alert(False, alertname="test", instance="b"))
    send_jira(config(sink), n, send_ctx(5))
    description = sink.requests[1].json["fields"]["description"]
    assert description.index("# Alerts Firing:") < description.index("# Alerts Resolved:")
    assert "  - instance = a\n" in description and "  - instance = b\n" in description
    assert sink.requests[1].json["fields"]["summary"] == "[FIRING:1] test "


def test_a_firing_group_reopens_its_recently_resolved_issue(sink: HttpSink, jira: FakeJira) -> None:
    jira.add("OPS-3", done=True)
    cfg = config(sink, reopen_transition="Reopen", reopen_duration="1h30m")
    send_jira(cfg, notification(alert(alertname="test")), send_ctx(5))
    assert calls(sink) == [
        ("POST", "/rest/api/2/search"),
        ("PUT", "/rest/api/2/issue/OPS-3"),
        ("GET", "/rest/api/2/issue/OPS-3/transitions"),
        ("POST", "/rest/api/2/issue/OPS-3/transitions"),
    ]
    assert (
        sink.requests[0]
        .json["jql"]
        .startswith("(resolutiondate is EMPTY OR resolutiondate >= -90m) and project=")
    )
    assert sink.requests[3].json == {"transition": {"id": REOPEN}}
    assert jira.issues["OPS-3"]["done"] is False


def test_a_resolved_group_resolves_its_open_issue(sink: HttpSink, jira: FakeJira) -> None:
    jira.add("OPS-4", done=False)
    cfg = config(sink, resolve_transition="Done", wont_fix_resolution="Won't Do")
    send_jira(cfg, notification(alert(False, alertname="test", instance="vm1")), send_ctx(5))
    assert (
        sink.requests[0]
        .json["jql"]
        .startswith(
            '(resolution is EMPTY or resolution != "Won\'t Do") and statusCategory != Done and project='
        )
    )
    update = sink.requests[1].json["fields"]
    assert update["summary"] == "[RESOLVED] test (vm1)"
    assert update["description"] == (
        "\n\n\n# Alerts Resolved:\n\nLabels:\n  - alertname = test\n  - instance = vm1\n\n"
        "Annotations:\n  - summary = disk almost full\n\nSource: http://prometheus.test/graph\n\n\n\n"
    )
    assert sink.requests[3].json == {"transition": {"id": RESOLVE}}
    assert jira.issues["OPS-4"]["done"] is True


def test_the_whole_life_of_a_group_on_one_issue(sink: HttpSink, jira: FakeJira) -> None:
    cfg = config(sink, reopen_transition="Reopen", resolve_transition="Done", reopen_duration="1h")
    firing, resolved = notification(alert(alertname="test")), notification(alert(False, alertname="test"))
    for n in (firing, firing, resolved, firing):
        send_jira(cfg, n, send_ctx(5))
    assert list(jira.issues) == ["OPS-1"]
    assert jira.issues["OPS-1"]["done"] is False
    methods = [m for m, _ in calls(sink)]
    assert methods.count("PUT") == 3 and methods.count("GET") == 2


def test_no_transition_without_its_setting(sink: HttpSink, jira: FakeJira) -> None:
    jira.add("OPS-5", done=False)
    send_jira(config(sink), notification(alert(False, alertname="test")), send_ctx(5))
    assert calls(sink) == [("POST", "/rest/api/2/search"), ("PUT", "/rest/api/2/issue/OPS-5")]


def test_a_missing_transition_is_a_permanent_error_naming_it(sink: HttpSink, jira: FakeJira) -> None:
    jira.add("OPS-6", done=False)
    with pytest.raises(NotifyError) as err:
        send_jira(
            config(sink, resolve_transition="Close"), notification(alert(False, alertname="x")), send_ctx(5)
        )
    assert not err.value.retryable
    assert "can't find transition Close for issue OPS-6" in str(err.value)


def test_disabled_updates_leave_summary_and_description_alone(sink: HttpSink, jira: FakeJira) -> None:
    jira.add("OPS-8", done=False)
    cfg = config(
        sink,
        summary={"enable_update": False},
        description={"template": "{{ .Status }}", "enable_update": False},
    )
    send_jira(cfg, notification(alert(alertname="test")), send_ctx(5))
    assert set(sink.requests[1].json["fields"]) == {"issuetype", "labels", "project"}
    send_jira(cfg, notification(alert(alertname="other"), group_key="{}:other"), send_ctx(5))
    created = sink.requests[3].json["fields"]
    assert created["summary"] == "[FIRING:1] other " and created["description"] == "firing"


@pytest.mark.parametrize(
    ("api_type", "path", "search"),
    [
        ("cloud", "rest/api/2", "/rest/api/3/search/jql"),
        ("datacenter", "rest/api/2", "/rest/api/2/search"),
        ("auto", "rest/api/2/", "/rest/api/2/search"),  # not an atlassian.net host
    ],
)
def test_search_path_by_api_type(sink: HttpSink, api_type: str, path: str, search: str) -> None:
    send_jira(config(sink, path, api_type=api_type), notification(alert(alertname="t")), send_ctx(5))
    assert calls(sink) == [("POST", search), ("POST", "/rest/api/2/issue")]


ADF = (
    '{"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": '
    '[{"type": "text", "text": "{{ .CommonLabels.alertname }} <fires>"}]}]}'
)


def test_api_v3_sends_the_description_as_a_document(sink: HttpSink) -> None:
    send_jira(
        config(sink, "rest/api/3", description=f"  {ADF}\n"), notification(alert(alertname="t")), send_ctx(5)
    )
    create = sink.requests[1]
    assert create.path == "/rest/api/3/issue"
    assert create.json["fields"]["description"] == {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "t <fires>"}]}],
    }
    assert b'"text":"t \\u003cfires\\u003e"' in create.body  # compacted and escaped as Go does


def test_api_v3_refuses_a_description_that_is_not_json(sink: HttpSink) -> None:
    with pytest.raises(NotifyError) as err:
        send_jira(config(sink, "rest/api/3"), notification(alert(alertname="t")), send_ctx(5))
    assert not err.value.retryable
    assert "invalid JSON for API v3" in str(err.value)
    assert calls(sink) == [("POST", "/rest/api/3/search")]  # auto, not an atlassian.net host


def test_custom_fields_are_rendered_and_typed_as_alertmanager_types_them(sink: HttpSink) -> None:
    fields = {
        "customfield_1": "{{ .CommonLabels.count }}",
        "customfield_2": "[a, {{ .CommonLabels.alertname }}]",
        "customfield_3": {"value": "{{ .Status }}", "{{ .CommonLabels.alertname }}": "y", 1: "dropped"},
        "customfield_4": "",
        "customfield_5": "key: value",
        "customfield_6": "2024-01-02",
        "customfield_7": [0, 1.5, True, None],
        "customfield_8": "1:30",
        "summary": "overridden",
    }
    n = notification(alert(alertname="disk", count="010"))
    send_jira(config(sink, fields=fields), n, send_ctx(5))
    sent = sink.requests[1].json["fields"]
    assert sent["customfield_1"] == 8  # yaml.v2 reads 010 as octal
    assert sent["customfield_2"] == ["a", "disk"]
    assert sent["customfield_3"] == {"disk": True, "value": "firing"}
    assert sent["customfield_4"] is None
    assert sent["customfield_5"] == {"key": "value"}
    assert sent["customfield_6"] == "2024-01-02"
    assert sent["customfield_7"] == [0, 1.5, True, None]
    assert sent["customfield_8"] == "1:30"
    assert sent["summary"] == "overridden"


def test_summary_and_description_are_cut_to_jiras_limits(sink: HttpSink) -> None:
    cfg = config(sink, summary="é" * 300, description="x" * 40000)
    send_jira(cfg, notification(alert(alertname="t")), send_ctx(5))
    fields = sink.requests[1].json["fields"]
    assert fields["summary"] == "é" * 254 + "…"
    assert len(fields["description"]) == 32767 and fields["description"].endswith("…")


def test_templates_from_files_and_global_api_url(sink: HttpSink, tmp_path: Path) -> None:
    templates = Templates({"jira.tmpl": '{{ define "jira.default.summary" }}custom {{ .Status }}{{ end }}'})
    cfg = integration(
        "jira_configs",
        {"project": "{{ .CommonLabels.team }}", "issue_type": "Bug"},
        {"jira_api_url": sink.url + "jira"},
    )
    send_jira(cfg, notification(alert(alertname="t", team="SRE")), send_ctx(5, templates))
    assert calls(sink) == [("POST", "/jira/search"), ("POST", "/jira/issue")]
    assert 'project="SRE"' in sink.requests[0].json["jql"]
    assert sink.requests[1].json["fields"]["summary"] == "custom firing"
    assert sink.requests[1].json["fields"]["project"] == {"key": "SRE"}


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (500, True), (503, True), (400, False), (401, False), (404, False)],
)
def test_jiras_refusals_are_retried_as_alertmanager_retries_them(
    sink: HttpSink, jira: FakeJira, status: int, retryable: bool
) -> None:
    jira.answers.append((status, b'{"errorMessages":["The value is invalid"],"errors":{}}'))
    with pytest.raises(NotifyError) as err:
        send_jira(config(sink), notification(alert(alertname="t")), send_ctx(5))
    assert err.value.retryable is retryable
    assert f"failed to look up existing issues: unexpected status code {status}" in str(err.value)
    assert "The value is invalid" in str(err.value)
    assert "api-token" not in str(err.value)


def test_a_refused_create_names_the_request(sink: HttpSink, jira: FakeJira) -> None:
    jira.answers.extend([(200, b'{"issues": []}'), (400, b'{"errors":{"priority":"unknown"}}')])
    with pytest.raises(NotifyError) as err:
        send_jira(config(sink), notification(alert(alertname="t", severity="info")), send_ctx(5))
    assert not err.value.retryable
    assert str(err.value) == (
        'jira: failed to POST request to "issue": unexpected status code 400: '
        '{"errors":{"priority":"unknown"}}'
    )


@pytest.mark.parametrize("answer", [b"<html>login</html>", b"[]", b'{"issues": "none"}'])
def test_a_search_answer_alerter_cannot_read_is_permanent(
    sink: HttpSink, jira: FakeJira, answer: bytes
) -> None:
    jira.answers.append((200, answer))
    with pytest.raises(NotifyError) as err:
        send_jira(config(sink), notification(alert(alertname="t")), send_ctx(5))
    assert not err.value.retryable
    assert "failed to look up existing issues" in str(err.value)


def test_an_unreachable_jira_is_retried() -> None:
    cfg = integration(
        "jira_configs",
        {"api_url": f"http://127.0.0.1:{free_port()}/rest/api/2", "project": "O", "issue_type": "B"},
    )
    with pytest.raises(NotifyError) as err:
        send_jira(cfg, notification(alert(alertname="t")), send_ctx(5))
    assert err.value.retryable


def test_a_broken_template_is_permanent_and_named(sink: HttpSink) -> None:
    with pytest.raises(NotifyError) as err:
        send_jira(config(sink, priority="{{ "), notification(alert(alertname="t")), send_ctx(5))
    assert not err.value.retryable
    assert "priority template" in str(err.value)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"summary": ["a"]}, "cannot unmarshal !!seq into jira.plain"),
        ({"summary": {"templat": "x"}}, "field templat not found in type jira.plain"),
        ({"reopen_duration": "1 hour"}, 'unknown unit " hour" in duration "1 hour"'),
        ({"fields": ["a"]}, "cannot unmarshal !!seq into map[string]interface {}"),
        ({"labels": "a"}, "cannot unmarshal !!str `a` into []string"),
        ({"api_type": "server"}, "unknown api_type on jira_config, must be auto, cloud or datacenter"),
        ({"api_url": "ftp://jira"}, 'unsupported scheme "ftp" for URL'),
        ({"api_url": None}, "no global Jira Cloud URL set"),
    ],
)
def test_config_is_checked_as_alertmanager_checks_it(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration(
            "jira_configs",
            {"api_url": "https://jira.test/rest/api/2", "project": "O", "issue_type": "B", **item},
        )
    assert message in str(err.value)


def test_config_defaults() -> None:
    cfg = integration(
        "jira_configs", {"project": "O", "issue_type": "B"}, {"jira_api_url": "https://x.atlassian.net"}
    )
    assert cfg.send_resolved is True
    assert cfg.values.get("api_url") is None and cfg.globals["jira_api_url"] == "https://x.atlassian.net"
