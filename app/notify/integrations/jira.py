"""The Jira integration: one issue per aggregation group, kept in step with the group.

Each notification, as Alertmanager's:
1. looks the group's issue up by its `ALERT{<group key hash>}` label in `project` (Jira Cloud:
   POST /rest/api/3/search/jql, for `api_type: cloud`, or `auto` with an atlassian.net host;
   Data Center and other hosts: POST <api_url>/search). While the group fires and
   `reopen_transition` and `reopen_duration` are set, issues resolved within `reopen_duration`
   count too; otherwise only issues not done. `wont_fix_resolution` excludes issues resolved so.
2. creates the issue (POST issue) when there is none and an alert fires; a resolved group without
   an issue sends nothing. An issue found is updated (PUT issue/KEY), without the summary or
   description whose `enable_update` is false.
3. moves the issue found: a firing group's done issue through `reopen_transition`, a resolved
   group's open issue through `resolve_transition` (each only when set), looked up by name
   (GET issue/KEY/transitions) and applied by id.

Requests share the attempt's time. Answers: 2xx is success; 429 and 5xx are retried, any other
status is not; a transition that does not exist is a permanent error naming it. Authentication
is the `http_config`'s (basic_auth with the account's e-mail and API token on Jira Cloud, or an
`authorization` bearer token on Data Center).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from app.config import RawIntegration
from app.config.integration_types import duration_seconds
from app.gostrings import go_quote
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import check_answer, go_json, join_url_path
from app.notify.integrations._jira_issue import Render, group_label, issue_fields
from app.notify.message import Notification
from app.template.data import template_data

log = logging.getLogger(__name__)

_HEADERS = {"Content-Type": "application/json", "Accept-Language": "en"}
_RETRY_CODES = (429,)
_SEARCH_FAILED = "failed to look up existing issues"


@dataclass(frozen=True)
class _Issue:
    """An issue the search found: its key, and whether its status category is done (None when
    Jira did not say, in which case it is not transitioned)."""

    key: str
    done: bool | None


class _Api:
    """Jira's REST API below `api_url`, every request within the attempt's time."""

    def __init__(self, cfg: RawIntegration, ctx: SendContext) -> None:
        self.cfg = cfg
        self.url = str(cfg.values.get("api_url") or cfg.globals.get("jira_api_url") or "")
        self.deadline = time.monotonic() + ctx.timeout

    def call(self, method: str, url: str, payload: Any, failure: str) -> transport.Response:
        """One request, refused (NotifyError) unless Jira answers 2xx."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NotifyError(f"jira: {failure}: the attempt ran out of time", retryable=True)
        body = None if payload is None else go_json(payload)
        response = transport.request(self.cfg.http_config, method, url, body, _HEADERS, left, "jira")
        check_answer(f"jira: {failure}", response, _RETRY_CODES)
        return response

    def read(self, method: str, url: str, payload: Any, failure: str) -> dict[str, Any]:
        """`call`, for the answers alerter reads: the answer's JSON object."""
        content = self.call(method, url, payload, failure).content
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError as err:
            raise NotifyError(f"jira: {failure}: the answer is not JSON ({err})", retryable=False) from None
        if not isinstance(answer, dict):
            raise NotifyError(f"jira: {failure}: the answer is not a JSON object", retryable=False)
        return answer

    def search_url(self, api_type: str) -> str:
        """Jira Cloud retired /search for /rest/api/3/search/jql, which Data Center lacks."""
        host = urlsplit(self.url).netloc.rpartition("@")[2]
        if api_type == "cloud" or (api_type == "auto" and host.endswith("atlassian.net")):
            return join_url_path(self.url, "/search/jql").replace("/rest/api/2/", "/rest/api/3/", 1)
        return join_url_path(self.url, "/search")


def _jql(values: dict[str, Any], project: str, label: str, firing: bool) -> str:
    jql = ""
    if values.get("wont_fix_resolution"):
        # `resolution != X` alone would also drop the unresolved issues (EMPTY never compares).
        jql += f"(resolution is EMPTY or resolution != {go_quote(values['wont_fix_resolution'])}) and "
    reopen_minutes = int(duration_seconds(values.get("reopen_duration")) / 60)
    if firing and values.get("reopen_transition") and reopen_minutes > 0:
        jql += f"(resolutiondate is EMPTY OR resolutiondate >= -{reopen_minutes}m) and "
    else:
        jql += "statusCategory != Done and "
    return jql + (
        f"project={go_quote(project)} and labels={go_quote(label)} order by status ASC,resolutiondate DESC"
    )


def _found(answer: dict[str, Any]) -> _Issue | None:
    """The first issue of a search answer (the open one, else the latest resolved)."""
    issues = answer.get("issues") or []
    if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
        raise NotifyError(f"jira: {_SEARCH_FAILED}: unexpected answer (issues is not a list)", False)
    if not issues:
        return None
    if len(issues) > 1:
        log.warning(
            "more than one jira issue matched, selecting the most recently resolved",
            extra={"fields": {"selected_issue": issues[0].get("key")}},
        )
    first = issues[0]
    fields = first.get("fields")
    status = fields.get("status") if isinstance(fields, dict) else None
    category = status.get("statusCategory") if isinstance(status, dict) else None
    done = None if status is None else isinstance(category, dict) and category.get("key") == "done"
    return _Issue(str(first.get("key") or ""), done)


def _search(
    api: _Api, values: dict[str, Any], n: Notification, render: Render, firing: bool
) -> _Issue | None:
    project = render(values.get("project", ""), "project")
    jql = _jql(values, project, group_label(n), firing)
    log.debug("searching for the group's jira issue", extra={"fields": {"group": n.group_key, "jql": jql}})
    payload = {"fields": ["status"], "jql": jql, "maxResults": 2}
    return _found(api.read("POST", api.search_url(values.get("api_type", "auto")), payload, _SEARCH_FAILED))


def _transition(api: _Api, values: dict[str, Any], issue: _Issue, firing: bool) -> None:
    """Reopen a done issue of a firing group, resolve an open issue of a resolved one."""
    if not issue.key or issue.done is None or issue.done != firing:
        return
    name = values.get("reopen_transition" if firing else "resolve_transition") or ""
    if not name:
        return
    url = join_url_path(api.url, f"issue/{issue.key}/transitions")
    answer = api.read("GET", url, None, f"failed to list the transitions of {issue.key}")
    transitions = answer.get("transitions") or []
    found = [t.get("id") for t in transitions if isinstance(t, dict) and t.get("name") == name]
    if not found or not isinstance(found[0], str):
        raise NotifyError(
            f"jira: can't find transition {name} for issue {issue.key}; check "
            f"{'reopen' if firing else 'resolve'}_transition against the project's workflow",
            retryable=False,
        )
    log.debug("transitioning jira issue", extra={"fields": {"issue_key": issue.key, "transition": name}})
    api.call("POST", url, {"transition": {"id": found[0]}}, f"failed to transition {issue.key} with {name}")


@integration("jira")
def send_jira(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Create, update, reopen or resolve the group's issue; raise NotifyError when Jira refuses."""
    values = cfg.values
    api = _Api(cfg, ctx)
    data = template_data(n)

    def render(text: str, what: str) -> str:
        return ctx.render(text, data, what)

    firing = any(a.firing for a in n.alerts)
    issue = _search(api, values, n, render, firing)
    if issue is None and not firing:
        return
    fields = issue_fields(values, n, render, api.url, updating=issue is not None)
    if issue is None:
        log.debug("creating jira issue", extra={"fields": {"group": n.group_key}})
        api.call(
            "POST", join_url_path(api.url, "issue"), {"fields": fields}, 'failed to POST request to "issue"'
        )
        return
    path = f"issue/{issue.key}"
    log.debug("updating jira issue", extra={"fields": {"group": n.group_key, "issue_key": issue.key}})
    api.call("PUT", join_url_path(api.url, path), {"fields": fields}, f'failed to PUT request to "{path}"')
    _transition(api, values, issue, firing)
