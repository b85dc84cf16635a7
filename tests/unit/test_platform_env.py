"""What a Procfile platform passes by environment (app/platform_env.py), as parse_settings reads it."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from app.backend import redis_setup
from app.cli import parse_settings
from app.settings import default_web_workers


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WEB_CONCURRENCY",
        "ALERTER_CONFIG_FILE",
        "ALERTER_CONFIG_YAML",
        "REDIS_TLS_SKIP_VERIFY",
        "REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_web_concurrency_sets_the_web_processes_unless_the_flag_does(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_settings([]).web_workers == default_web_workers()
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    assert parse_settings([]).web_workers == 5
    assert parse_settings(["--web.workers=3"]).web_workers == 3


def test_a_web_concurrency_that_is_not_a_number_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "lots")
    with pytest.raises(SystemExit):
        parse_settings([])
    assert "WEB_CONCURRENCY must be a whole number" in capsys.readouterr().err


def test_the_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parse_settings([]).config_file == "alertmanager.yml"
    monkeypatch.setenv("ALERTER_CONFIG_FILE", "/app/config/am.yml")
    assert parse_settings([]).config_file == "/app/config/am.yml"
    yaml_text = "route: {receiver: x}\nreceivers: [{name: x}]\n"
    monkeypatch.setenv("ALERTER_CONFIG_YAML", yaml_text)
    from_env = Path(parse_settings([]).config_file)
    assert from_env.read_text() == yaml_text
    assert from_env.stat().st_mode & 0o777 == 0o600  # it may hold receiver credentials
    # --config.file wins over both.
    assert parse_settings([f"--config.file={tmp_path / 'mine.yml'}"]).config_file == str(
        tmp_path / "mine.yml"
    )


def test_redis_tls_skip_verify_is_explicit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "rediss://:secret@redis.example:6380/0"
    verified = redis_setup(parse_settings([f"--redis.url={url}"]))
    assert verified.tls is not None and verified.tls.verify_mode == ssl.CERT_REQUIRED
    monkeypatch.setenv("REDIS_TLS_SKIP_VERIFY", "true")
    relaxed = redis_setup(parse_settings([f"--redis.url={url}"]))
    assert relaxed.tls is not None and relaxed.tls.verify_mode == ssl.CERT_NONE
    # It means nothing for a plain connection, so it is refused there rather than ignored.
    with pytest.raises(SystemExit):
        parse_settings(["--redis.url=redis://redis.example:6379/0"])
    assert "REDIS_TLS_SKIP_VERIFY applies to a rediss:// URL" in capsys.readouterr().err
    monkeypatch.setenv("REDIS_TLS_SKIP_VERIFY", "yes")
    with pytest.raises(SystemExit):
        parse_settings([f"--redis.url={url}"])
    assert "REDIS_TLS_SKIP_VERIFY must be true or false" in capsys.readouterr().err


def test_the_web_tier_defaults_to_two_processes_per_usable_core_of_two_threads() -> None:
    settings = parse_settings([])
    assert settings.web_workers == 2 * len(os.sched_getaffinity(0))
    assert settings.web_threads == 2
