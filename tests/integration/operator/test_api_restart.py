"""Faults end to end: the emulator restarts from its state directory mid-study. The unmodified
operator rides it out: every trial runs as one Job, created once, and is recorded once.

Two restarts: the API server alone (kube-apiserver restarted over etcd: objects, uids and
resourceVersions kept, every connection and watch cut, older resourceVersions 410 Gone, pods
left running), and a crash of the whole emulator, which is a node crash too: the trials that
were running lose their processes and fail (trial Jobs have ``backoffLimit: 0``), as on a
cluster whose node died, and are recorded as failed, neither lost nor repeated."""

from __future__ import annotations

from .harness import Cluster, OperatorProcess, assert_exactly_once, eventually, tuningjob


def test_api_server_restarts_mid_study_lose_and_repeat_nothing(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    since = cluster.sim.requests()[-1]["seq"]
    restarts = cluster.sim.state()["restarts"]
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "1.0"}]}
    cluster.apply(tuningjob("restarted", mode="slow", max_trials=8, parallel=2, container=slow))
    for jobs in (2, 5):  # one restart with trials running, one later in the study
        eventually(lambda n=jobs: len(cluster.jobs("restarted")) >= n, message=f"{jobs} Jobs")
        cluster.sim.restart_api(downtime=1.0)
    cluster.wait_condition("restarted", "Complete", timeout=180)
    assert_exactly_once(cluster, "restarted", 8, since)
    assert cluster.sim.state()["restarts"] == restarts + 2
    assert operator.process is not None
    assert operator.process.poll() is None  # rode it out without exiting


def test_an_emulator_crash_mid_study_loses_and_repeats_nothing(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "1.0"}]}
    cluster.apply(tuningjob("crashed", mode="slow", max_trials=8, parallel=2, container=slow))
    eventually(lambda: len(cluster.jobs("crashed")) >= 3, message="3 trial Jobs")
    cluster.sim.kill()  # the request log goes with it: count Jobs and their uids instead
    cluster.sim.start()
    cluster.wait_condition("crashed", "Complete", timeout=180)

    trials = cluster.tuningjob("crashed")["status"]["trials"]
    assert trials["total"] == 8
    assert trials["succeeded"] + trials["failed"] == 8  # every trial recorded
    assert trials["failed"] <= 2  # at most the ones running at the crash
    jobs = cluster.jobs("crashed")
    assert sorted(j["metadata"]["name"] for j in jobs) == sorted(f"crashed-{n}" for n in range(8))
    assert len({j["metadata"]["uid"] for j in jobs}) == 8
    assert operator.process is not None
    assert operator.process.poll() is None
