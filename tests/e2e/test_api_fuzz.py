"""Property-based fuzzing of the whole API v2 against a running alerter (schemathesis).

schemathesis reads the project's spec (docs/openapi.yaml) and sends what it derives from it:
valid requests, requests that break the schema, and sequences that follow the spec's links
(create a silence, then read and delete it, twice). Every answer must be documented for its
operation, valid against the spec's schema (date-time and uri formats included) and never a 5xx;
the process must stay healthy and log no unhandled exception. The run is bounded by a number of
cases (FUZZ_EXAMPLES per operation and phase), not by time, so that a loaded machine runs the
same cases more slowly instead of fewer; ALERTER_FUZZ_SEED explores another seed than the fixed
one.

A failure prints schemathesis' report: each failing case with the curl command that repeats it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests

from tests.e2e.conftest import Deployment, webhook_receiver, write_config

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "docs" / "openapi.yaml"
CHECKS = Path(__file__).with_name("schemathesis.toml")
FUZZ_EXAMPLES = 20
SEED = os.environ.get("ALERTER_FUZZ_SEED", "20261130")


def run_schemathesis(base_url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        f"--config-file={CHECKS}",
        "--no-color",
        "run",
        str(SPEC),
        f"--url={base_url}/api/v2",
        f"--max-examples={FUZZ_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--request-timeout=10",
        "--generation-database=none",
        "--max-failures=20",
    ]
    # The subprocess timeout only guards against a hung run.
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)


def test_fuzzed_requests_get_no_5xx_and_only_answers_the_spec_allows(
    deploy: Callable[[Path], Deployment], tmp_path: Path
) -> None:
    dep = deploy(
        write_config(
            tmp_path / "am.yml",
            [webhook_receiver("http://127.0.0.1:9/"), webhook_receiver("http://127.0.0.1:9/p", name="pager")],
            route={"routes": [{"matchers": ['severity="page"'], "receiver": "pager"}]},
            extra={
                "inhibit_rules": [
                    {
                        "source_matchers": ['severity="page"'],
                        "target_matchers": ['severity="info"'],
                        "equal": ["x"],
                    }
                ]
            },
        )
    )
    done = run_schemathesis(dep.web_urls[0], tmp_path)
    assert done.returncode == 0, (
        f"schemathesis found answers the spec does not allow:\n{done.stdout[-20000:]}"
    )
    counts = re.search(r"^\s*(\d+) generated, (\d+) passed\s*$", done.stdout, re.MULTILINE)
    assert counts is not None, done.stdout[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed and generated >= 200, done.stdout[-3000:]
    for url in dep.web_urls:
        assert requests.get(f"{url}/-/healthy", timeout=10).status_code == 200
    for proc in dep.processes:
        assert proc.is_running(), f"{proc.name} exited during the fuzzing:\n{proc.log_tail()}"
    assert "Traceback" not in dep.logs(), dep.logs()[-10000:]
