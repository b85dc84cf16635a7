"""A plain (not editable) `pip install .` carries everything alerter needs: its default templates
and its web UI are package data, so the default email renders and the UI is served from an
install with no checkout beside it."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import requests

from tests.e2e.conftest import alert, write_config
from tests.support.processes import REPO_ROOT, ManagedProcess
from tests.support.redis_server import free_port
from tests.support.smtp_server import SmtpServer


def install_copy(tmp_path: Path) -> Path:
    """A fresh venv with `pip install --no-deps` of a copy of the source tree (so no path can
    lead back to this checkout); the dependencies come from the test venv through a .pth line,
    which adds its site-packages without running its editable-install hooks."""
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "workers", source / "workers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", source / "pyproject.toml")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
        check=True,
        timeout=300,
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.rmtree(source)
    return env_dir


def test_a_plain_install_sends_the_default_email(tmp_path: Path) -> None:
    env_dir = install_copy(tmp_path)
    where = subprocess.run(
        [env_dir / "bin" / "python", "-c", "import app.template; print(app.template.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(env_dir)), where
    with SmtpServer() as smtp:
        receiver = {
            "name": "mail",
            "email_configs": [
                {
                    "to": "oncall@example.com",
                    "from": "alerter@example.com",
                    "smarthost": f"127.0.0.1:{smtp.port}",
                    "require_tls": False,
                }
            ],
        }
        config = write_config(tmp_path / "am.yml", [receiver], route={"group_by": ["alertname", "app"]})
        port = free_port()
        argv = [
            str(env_dir / "bin" / "alerter"),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with ManagedProcess(argv, cwd=tmp_path, env={"PYTHONPATH": None}) as proc:
            url = f"http://127.0.0.1:{port}"
            proc.wait_http(f"{url}/-/ready", timeout=30)
            r = requests.post(
                f"{url}/api/v2/alerts", json=[alert("DiskFull", app="shop", dc="dc1")], timeout=10
            )
            assert r.status_code == 200, r.text
            [mail] = smtp.wait_for(1, timeout=20)
            # The web UI is package data too: every file under app/ui/static is installed.
            for path in sorted((REPO_ROOT / "app" / "ui" / "static").rglob("*.*")):
                name = path.relative_to(REPO_ROOT / "app" / "ui" / "static").as_posix()
                served = requests.get(f"{url}/{'' if name == 'index.html' else name}", timeout=10)
                assert served.status_code == 200 and served.content == path.read_bytes(), name
    assert mail.message["Subject"] == "[FIRING:1] DiskFull shop (dc1)"
    html = mail.message.get_body(("html",)).get_content()
    assert "DiskFull" in html and "View alerts" in html and "Sent by alerter" in html
