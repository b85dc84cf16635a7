"""HA soak: the crash test of tests/ha/test_crash.py run for minutes instead of seconds.

    bench/soak [--minutes=10] [--seed=1207]

Same deployment and the same checks as the crash test (a private Redis, two gunicorn web
instances, three RQ workers, pushers acting as two Prometheus servers, a random SIGKILL and
restart every 3 s; at the end: every group notified, every duplicate attributed to a worker
killed between send and commit, at most one per send a worker may have running (SEND_THREADS in
app/notify/pipeline.py) and per kill, nothing more arriving once settled), with one new group
per second for the whole run. It prints the test's figures and exits non-zero when a check
fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ha import test_crash as crash


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=crash.SEED)
    args = parser.parse_args()
    seconds = args.minutes * 60
    crash.SEED = args.seed
    crash.CHAOS_FOR = seconds
    crash.APPEAR_OVER = max(seconds - 30, 10.0)
    crash.GROUPS = max(int(crash.APPEAR_OVER), 30)  # about one new group a second
    crash.SETTLE_TIMEOUT = 120.0
    kills = f"a kill every {crash.KILL_EVERY:g} s"
    print(f"soak: {args.minutes:g} min, {crash.GROUPS} groups, {kills}, seed {args.seed}", flush=True)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="alerter-soak-") as tmp:
        try:
            crash.test_random_sigkills_lose_nothing_and_every_duplicate_is_a_killed_workers_send(Path(tmp))
        except AssertionError as err:
            print(f"soak FAILED after {time.monotonic() - began:.0f} s: {err}", flush=True)
            return 1
    print(f"soak passed in {time.monotonic() - began:.0f} s", flush=True)
    print(f"reproduce: cd {Path.cwd()} && bench/soak --minutes={args.minutes:g} --seed={args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
