"""A receiver integration without a sender is refused where configs load (start, reload) and by
`alerter check-config`, naming the receiver, the integration and what to do; it is never loaded
and left silent. The registry entry is removed for the test, so the check is tested whichever
integrations this alerter delivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.checkconfig import check_config
from app.config import ConfigError
from app.notify import integrations
from app.settings import Settings
from app.snapshot import ConfigSnapshot, reload_snapshot

CONFIG = """
route: {receiver: tickets}
receivers:
  - name: tickets
    webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
    jira_configs:
      - {api_url: "https://jira.test/rest/api/2", project: OPS, issue_type: Bug}
      - {api_url: "https://jira.test/rest/api/2", project: DEV, issue_type: Bug}
  - name: chat
    rocketchat_configs: [{token: t, token_id: i}]
"""
REFUSAL = (
    'receiver "tickets": alerter cannot deliver jira_configs (no jira integration in this alerter); '
    "remove jira_configs from the receiver or run an alerter release that delivers it"
)


@pytest.fixture
def without_jira(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(integrations.SENDERS, "jira")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


@pytest.mark.usefixtures("without_jira")
def test_check_config_names_receiver_integration_and_remedy(config_file: Path) -> None:
    report, ok = check_config([str(config_file)])
    assert not ok
    assert report == f"Checking '{config_file}'  FAILED: {REFUSAL}\n"


@pytest.mark.usefixtures("without_jira")
def test_every_undeliverable_integration_is_named(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(integrations.SENDERS, "rocketchat")
    report, ok = check_config([str(config_file)])
    assert not ok
    assert REFUSAL in report and 'receiver "chat": alerter cannot deliver rocketchat_configs' in report


@pytest.mark.usefixtures("without_jira")
def test_start_and_reload_refuse_it(config_file: Path, tmp_path: Path) -> None:
    settings = Settings(config_file=str(config_file))
    with pytest.raises(ConfigError) as err:
        ConfigSnapshot.load(settings)
    assert str(err.value) == REFUSAL
    snapshot, problem = reload_snapshot(settings)
    assert snapshot is None and problem == REFUSAL
    assert REGISTRY.get_sample_value("alertmanager_config_last_reload_successful") == 0


def test_a_config_whose_integrations_all_have_senders_loads(config_file: Path) -> None:
    assert check_config([str(config_file)])[1]
    snapshot = ConfigSnapshot.load(Settings(config_file=str(config_file)))
    assert [kind for kind, _, _ in snapshot.config.receivers["tickets"].integrations()] == [
        "webhook",
        "jira",
        "jira",
    ]
