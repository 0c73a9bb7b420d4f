"""Two operators, one Lease: one leads, the other waits, takes over, and nothing is lost or
launched twice. Each test uses its own Lease, so a leader killed by one test does not keep the
next waiting."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kubesim.harness import wait_until

from .harness import Cluster, OperatorProcess, assert_exactly_once, eventually, tuningjob

TAKEOVER_SECONDS = 15 + 2 + 5  # lease duration + one retry period + slack for a busy machine


@pytest.fixture
def pair(
    cluster: Cluster, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    lease = ("--lease-name", f"lease-{zlib.crc32(request.node.name.encode())}")
    first = OperatorProcess(cluster.sim, tmp_path, *lease, identity="replica-a").start()
    wait_until(first.leading, timeout=20, message="the first operator leads")
    second = OperatorProcess(cluster.sim, tmp_path, *lease, identity="replica-b").start()
    yield first, second
    for process in (first, second):
        process.stop()


def test_the_second_operator_waits_and_every_trial_runs_once(
    cluster: Cluster, pair: tuple[OperatorProcess, OperatorProcess]
) -> None:
    first, second = pair
    since = cluster.sim.requests()[-1]["seq"]
    cluster.apply(tuningjob("two-operators", max_trials=8, parallel=3))
    cluster.wait_condition("two-operators", "Complete", timeout=120)
    assert first.leading()
    assert not second.leading()
    assert_exactly_once(cluster, "two-operators", 8, since)
    assert "ConcurrentWriterError" not in first.log_tail(2000) + second.log_tail(2000)
    # The standby made no request but for the Lease.
    standby = [
        r
        for r in cluster.sim.requests(since=since)
        if "replica-b" in r["userAgent"] and r["resource"] != "leases"
    ]
    assert standby == []


def test_killing_the_leader_mid_study_hands_over_and_loses_nothing(
    cluster: Cluster, pair: tuple[OperatorProcess, OperatorProcess]
) -> None:
    first, second = pair
    since = cluster.sim.requests()[-1]["seq"]
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "1.0"}]}
    cluster.apply(tuningjob("failover", mode="slow", max_trials=10, parallel=2, container=slow))
    eventually(lambda: len(cluster.jobs("failover")) >= 3, message="3 trial Jobs")
    first.kill()
    killed_at = time.monotonic()
    wait_until(second.leading, timeout=TAKEOVER_SECONDS, message="the standby takes over")
    took = time.monotonic() - killed_at
    assert took <= TAKEOVER_SECONDS
    cluster.wait_condition("failover", "Complete", timeout=180)
    assert_exactly_once(cluster, "failover", 10, since)


def test_a_leader_that_cannot_renew_stops_before_the_standby_starts(
    cluster: Cluster, pair: tuple[OperatorProcess, OperatorProcess]
) -> None:
    first, second = pair
    since = cluster.sim.requests()[-1]["seq"]
    cluster.apply(tuningjob("lost-lease", mode="slow", max_trials=6, parallel=2))
    eventually(lambda: len(cluster.jobs("lost-lease")) >= 2, message="2 trial Jobs")
    # The leader's renewals fail from now on (as behind a network partition).
    cluster.sim.faults(resource="leases", user_agent_regex="replica-a", status=503, count=-1)
    process = first.process
    assert process is not None
    wait_until(lambda: process.poll() is not None, timeout=20, message="the leader exits")
    exited_at = time.time()
    assert process.returncode == 75
    wait_until(second.leading, timeout=TAKEOVER_SECONDS, message="the standby takes over")
    cluster.sim.clear_faults()
    taken = [
        r
        for r in cluster.sim.requests(since=since, resource="leases", verb="update")
        if "replica-b" in r["userAgent"] and r["code"] == 200
    ]
    assert taken
    assert taken[0]["time"] > exited_at  # the old leader was gone first
    cluster.wait_condition("lost-lease", "Complete", timeout=180)
    assert_exactly_once(cluster, "lost-lease", 6, since)
