"""The real amtool (Debian's prometheus-alertmanager) against alerter: every command exits 0 and
prints what an Alertmanager would have made it print."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Deployment, start_embedded, write_config
from tests.support.processes import run_amtool, wait_until
from tests.unit.test_silence import body as silence_body

CONFIG_EXTRA = {
    "inhibit_rules": [
        {
            "source_matchers": ["severity=critical"],
            "target_matchers": ["severity=warning"],
            "equal": ["alertname"],
        }
    ]
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("amtool")
    # Email receivers: since Alertmanager 0.26 a webhook URL is a secret shown as <secret> in
    # the status config, which amtool 0.25 (Debian's) cannot parse back as a URL.
    email = {"smarthost": "127.0.0.1:9", "from": "alerter@example.com", "require_tls": False}
    receivers = [
        {"name": "default", "email_configs": [{**email, "to": "ops@example.com"}]},
        {"name": "pager", "email_configs": [{**email, "to": "pager@example.com"}]},
    ]
    route = {"group_wait": "1h", "routes": [{"matchers": ['severity="page"'], "receiver": "pager"}]}
    config = write_config(tmp / "am.yml", receivers, route=route, extra=CONFIG_EXTRA)
    dep = start_embedded(config, tmp / "data")
    yield dep
    dep.stop()


def amtool(dep: Deployment, *args: str) -> str:
    return run_amtool(dep.web_urls[0], *args)


def test_alert_add_and_query(node: Deployment) -> None:
    amtool(
        node,
        "alert",
        "add",
        "alertname=AmtoolAdded",
        "instance=db1",
        "severity=warning",
        "--annotation=summary=from amtool",
    )
    amtool(node, "alert", "add", "alertname=AmtoolOther", "instance=web1")
    out = amtool(node, "alert", "query", "alertname=AmtoolAdded")
    assert "AmtoolAdded" in out and "from amtool" in out
    assert "AmtoolOther" not in out
    as_json = json.loads(amtool(node, "alert", "query", "-o", "json", "instance=~db.*"))
    assert [a["labels"]["alertname"] for a in as_json] == ["AmtoolAdded"]
    assert as_json[0]["receivers"] == [{"name": "default"}]
    assert "AmtoolOther" in amtool(node, "alert", "query", "--active")


def test_silence_lifecycle(node: Deployment, tmp_path: Path) -> None:
    amtool(node, "alert", "add", "alertname=ToSilence", "instance=a")
    sid = amtool(
        node,
        "silence",
        "add",
        "alertname=ToSilence",
        "--comment=maintenance",
        "--author=ops",
        "--duration=1h",
    ).strip()
    assert len(sid) == 36  # a UUID, as Alertmanager makes
    assert amtool(node, "silence", "query", "-q").split() == [sid]
    assert sid in amtool(node, "silence", "query", "alertname=ToSilence")
    assert "maintenance" in amtool(node, "silence", "query")

    # The silenced alert shows in --silenced queries, not in the default active view.
    wait_until(
        lambda: "ToSilence" in amtool(node, "alert", "query", "--silenced"),
        timeout=10,
        message="alert never reported as silenced",
    )
    assert "ToSilence" not in amtool(node, "alert", "query")

    # amtool 0.25 prints a Go pointer for `silence update -q`, so read the ID column of its table.
    table = amtool(node, "silence", "update", sid, "--comment=longer maintenance").splitlines()
    assert table[1].split()[0] == sid  # only the comment changed: same id
    assert "longer maintenance" in amtool(node, "silence", "query")

    exported = amtool(node, "silence", "query", "-o", "json")
    amtool(node, "silence", "expire", sid)
    assert amtool(node, "silence", "query", "-q").split() == []
    assert sid in amtool(node, "silence", "query", "--expired", "-q").split()

    dump = tmp_path / "silences.json"
    dump.write_text(exported)
    amtool(node, "silence", "import", str(dump))
    active = amtool(node, "silence", "query", "-q").split()
    assert len(active) == 1 and active[0] != sid


def test_cluster_show(node: Deployment) -> None:
    out = amtool(node, "cluster", "show")
    assert "Status:" in out and "disabled" in out


def test_config_show_and_routes(node: Deployment) -> None:
    shown = amtool(node, "config", "show")
    assert "receiver: default" in shown and "pager" in shown
    tree = amtool(node, "config", "routes", "show")
    assert "default" in tree and "pager" in tree
    assert amtool(node, "config", "routes", "test", "severity=page").strip() == "pager"
    assert amtool(node, "config", "routes", "test", "severity=info").strip() == "default"
    amtool(node, "config", "routes", "test", "--verify.receivers=pager", "severity=page")


def test_amtool_reads_silences_with_annotations_and_its_update_drops_them(node: Deployment) -> None:
    """amtool 0.25 predates silence annotations (Alertmanager 0.32): it lists such a silence, and
    its `silence update` posts the silence back without them, which is stored as posted, as
    Alertmanager 0.32+ stores it."""
    now = time.time()
    matchers = [{"name": "alertname", "value": "Annotated", "isRegex": False, "isEqual": True}]
    body = {
        **silence_body(now, now + 3600, matchers),
        "comment": "with annotations",
        "annotations": {"ticket": "OPS-1"},
    }
    url = node.web_urls[0]
    sid = requests.post(f"{url}/api/v2/silences", json=body, timeout=10).json()["silenceID"]
    listed = json.loads(amtool(node, "silence", "query", "-o", "json", "alertname=Annotated"))
    assert [(s["id"], s["comment"]) for s in listed] == [(sid, "with annotations")]
    table = amtool(node, "silence", "update", sid, "--comment=updated by amtool 0.25").splitlines()
    assert table[1].split()[0] == sid
    updated = requests.get(f"{url}/api/v2/silence/{sid}", timeout=10).json()
    assert updated["comment"] == "updated by amtool 0.25" and "annotations" not in updated
