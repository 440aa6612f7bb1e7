"""A leader process killed with SIGKILL: the other candidate takes over, on both front ends.

The leader runs in a child process (the same elector front end as the
candidate in this process) against the embedded server; once it leads and the
candidate has observed it, the child gets SIGKILL. Nobody releases anything:
the candidate must see the record stop changing for ``leaseDurationSeconds``
on its own clock, then take over on its next try. Run with ``-s`` to see the
measured take-over time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.election import ELECTOR_FRONTS, FAST, LEASES, serve_leases, wait_for
from tests.support.front import Front

LD, RD, RP = FAST["lease_duration"], FAST["renew_deadline"], FAST["retry_period"]
SLACK = 1.0
ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
from tests.support.election import ELECTOR_FRONTS
url, identity, front = sys.argv[1:4]
run = ELECTOR_FRONTS[front]().start(url, identity)
if run.started.wait(60):
    print("LEADING", flush=True)
run.returned.wait()
"""

pytestmark = pytest.mark.thread_leak_timeout(5)


def test_a_sigkilled_leader_is_replaced_within_lease_duration_plus_retry(
        front: Front, server: Any) -> None:
    serve_leases(server)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, server.url, "victim", front.name],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                             text=True)
    leading = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "LEADING":
                leading.set()

    reader = threading.Thread(target=read, name="child stdout", daemon=True)
    reader.start()
    candidate = None
    try:
        assert leading.wait(60), "the child never led"
        candidate = ELECTOR_FRONTS[front.name]().start(server.url, "survivor")
        wait_for(lambda: candidate.leaders == ["victim"], 10, "the survivor to see the victim")
        assert not candidate.is_leader()
        renewed = server.get(LEASES, "lock", "default")["spec"]["renewTime"]
        wait_for(lambda: server.get(LEASES, "lock", "default")["spec"]["renewTime"] != renewed,
                 5, "the victim to renew")  # it is alive and renewing right up to the kill

        t_kill = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        assert candidate.started.wait(LD + RP + 2 * SLACK), "the survivor did not take over"
        took_over = candidate.at["started"] - t_kill
        assert took_over <= LD + RP + SLACK
        spec = server.get(LEASES, "lock", "default")["spec"]
        assert spec["holderIdentity"] == "survivor"
        assert spec["leaseTransitions"] == 1
        assert candidate.leaders == ["victim", "survivor"]
        print(f"\n[{front.name}] SIGKILL: the other candidate took over after {took_over:.3f}s "
              f"(lease {LD}s, renew deadline {RD}s, retry {RP}s)")
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
        reader.join(5)
        if candidate is not None:
            candidate.stop()
            assert candidate.join(10)
            assert candidate.error is None
