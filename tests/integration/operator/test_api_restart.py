"""Faults end to end: the API server restarts from its state directory mid-study (kube-apiserver
restarted over etcd: objects, uids and resourceVersions kept, every connection and watch cut,
older resourceVersions 410 Gone, pods left running). The unmodified operator rides it out:
every trial runs as one Job, created once, and is recorded once."""

from __future__ import annotations

from .harness import Cluster, OperatorProcess, assert_exactly_once, eventually, tuningjob


def test_api_server_restarts_mid_study_lose_and_repeat_nothing(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    since = cluster.sim.requests()[-1]["seq"]
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "1.0"}]}
    cluster.apply(tuningjob("restarted", mode="slow", max_trials=8, parallel=2, container=slow))
    for jobs in (2, 5):  # one restart with trials running, one later in the study
        eventually(lambda n=jobs: len(cluster.jobs("restarted")) >= n, message=f"{jobs} Jobs")
        cluster.sim.restart_api(downtime=1.0)
    cluster.wait_condition("restarted", "Complete", timeout=180)
    assert_exactly_once(cluster, "restarted", 8, since)
    assert cluster.sim.state()["restarts"] == 2
    assert operator.process is not None
    assert operator.process.poll() is None  # rode it out without exiting
