"""Trials as GPU clusters run them: queued by Kueue, suspended and resumed, interrupted by the
infrastructure (Eviction API, a node going NotReady), and made of several pods.

A test plays Kueue (it un-suspends trial Jobs one at a time) and the cluster's operators
(it evicts pods, marks nodes NotReady); the emulator's Job controller, taint eviction and
kubelet do the rest as a real control plane does.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
import pytest
from kubernetes import client
from kubetune.runtime.kubernetes.journal import open_journal_storage
from optuna.trial import FrozenTrial

from .harness import Cluster, OperatorProcess, eventually, tuningjob

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
SLOW = {"env": [{"name": "TRIAL_SECONDS", "value": "3"}]}


def study_trials(cluster: Cluster, name: str) -> dict[int, FrozenTrial]:
    """A TuningJob's trials as its study journal (the ConfigMaps) holds them: read-only."""
    uid = cluster.tuningjob(name)["metadata"]["uid"]
    storage = open_journal_storage(cluster.core, name, "default", uid)
    study = optuna.load_study(study_name=name, storage=storage)
    return {trial.number: trial for trial in study.get_trials(deepcopy=False)}


def trial_pods(cluster: Cluster, job: str) -> list[client.V1Pod]:
    pods = cluster.core.list_namespaced_pod("default", label_selector=f"job-name={job}").items
    return sorted(pods, key=lambda p: p.metadata.creation_timestamp)


def running_pod(cluster: Cluster, job: str) -> client.V1Pod:
    return eventually(
        lambda: next((p for p in trial_pods(cluster, job) if p.status.phase == "Running"), None),
        message=f"a running pod of {job}",
    )


def trials_status(cluster: Cluster, name: str) -> dict[str, Any]:
    return dict((cluster.tuningjob(name).get("status") or {}).get("trials") or {})


def suspended(cluster: Cluster, job: str) -> bool:
    return bool(cluster.batch.read_namespaced_job(job, "default").spec.suspend)


def set_suspend(cluster: Cluster, job: str, value: bool) -> None:
    cluster.batch.patch_namespaced_job(job, "default", {"spec": {"suspend": value}})


def test_queued_trials_admitted_one_at_a_time_outwait_pending_timeout(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob(
        "queued",
        max_trials=3,
        parallel=3,
        limits={"pendingTimeout": "2s", "maxFailedTrials": 0},
        spec={},
    )
    template = manifest["spec"]["trialTemplate"]
    template["metadata"] = {"labels": {QUEUE_LABEL: "team-a"}}
    template["spec"]["suspend"] = True  # as Kueue's webhook creates them
    cluster.apply(manifest)

    names = [f"queued-{n}" for n in range(3)]
    eventually(lambda: trials_status(cluster, "queued").get("queued") == 3, message="3 queued")
    running = cluster.condition("queued", "Running")
    assert running is not None
    assert "3 of them waiting in a queue" in running["message"]
    for name in names:
        job = cluster.batch.read_namespaced_job(name, "default")
        assert job.metadata.labels[QUEUE_LABEL] == "team-a"
        assert job.spec.suspend  # the operator never un-suspends a Job created suspended
    for admitted, name in enumerate(names):
        time.sleep(2.5)  # every trial waits in the queue longer than pendingTimeout
        assert trials_status(cluster, "queued")["failed"] == 0
        set_suspend(cluster, name, False)  # Kueue admits it
        eventually(
            lambda name=name: (
                cluster.batch.read_namespaced_job_status(name, "default").status.succeeded
            ),
            message=f"{name} completes once admitted",
        )
        eventually(
            lambda admitted=admitted: (
                trials_status(cluster, "queued").get("queued") == 2 - admitted
            ),
            message="one fewer queued",
        )
    complete = cluster.wait_condition("queued", "Complete")
    assert complete["reason"] == "MaxTrialsReached"
    counts = trials_status(cluster, "queued")
    assert (counts["succeeded"], counts["failed"], counts["queued"]) == (3, 0, 0)


def test_trial_suspended_mid_run_and_resumed_completes_with_its_metric(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob(
        "paused",
        mode="slow",
        max_trials=1,
        parallel=1,
        container=SLOW,
        # Long enough that a pod started on a loaded machine is not failed as Pending before it
        # runs; the trial then stays queued for longer than this.
        limits={"pendingTimeout": "4s"},
    )
    cluster.apply(manifest)
    first = running_pod(cluster, "paused-0")
    job_uid = cluster.batch.read_namespaced_job("paused-0", "default").metadata.uid
    set_suspend(cluster, "paused-0", True)  # preempted by Kueue
    eventually(lambda: trials_status(cluster, "paused").get("queued") == 1, message="queued")
    eventually(lambda: not trial_pods(cluster, "paused-0"), message="pods of the paused Job gone")
    time.sleep(4.5)  # longer than pendingTimeout: a queued trial is not pending
    set_suspend(cluster, "paused-0", False)  # admitted again
    second = running_pod(cluster, "paused-0")
    assert second.metadata.uid != first.metadata.uid

    cluster.wait_condition("paused", "Complete")
    job = cluster.batch.read_namespaced_job("paused-0", "default")
    assert job.metadata.uid == job_uid  # same trial, same Job
    counts = trials_status(cluster, "paused")
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (1, 0, 1)
    best = cluster.tuningjob("paused")["status"]["bestTrial"]
    params = best["parameters"]
    assert best["objective"] == pytest.approx(
        (params["x"] - 0.3) ** 2 + 0.01 * params["layers"], abs=1e-5
    )


def _interrupted_study(cluster: Cluster, name: str, retries: int | None) -> None:
    limits: dict[str, Any] = {"maxFailedTrials": 0}
    if retries is not None:
        limits["maxTrialRetries"] = retries
    cluster.apply(
        tuningjob(name, mode="slow", max_trials=1, parallel=1, container=SLOW, limits=limits)
    )
    job = eventually(
        lambda: next(
            iter(
                cluster.batch.list_namespaced_job(
                    "default", field_selector=f"metadata.name={name}-0"
                ).items
            ),
            None,
        ),
        message=f"Job {name}-0",
    )
    policy = job.spec.pod_failure_policy
    assert policy is not None  # rendered by kubetune: the Job controller reruns disrupted pods
    assert policy.rules[0].action == "Ignore"
    assert policy.rules[0].on_pod_conditions[0].type == "DisruptionTarget"


def test_evicted_trial_reruns_and_is_not_a_failure(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    _interrupted_study(cluster, "evicted", None)
    pod = running_pod(cluster, "evicted-0")
    cluster.core.create_namespaced_pod_eviction(
        pod.metadata.name, "default", {"metadata": {"name": pod.metadata.name}}
    )
    cluster.wait_condition("evicted", "Complete", timeout=90)
    counts = trials_status(cluster, "evicted")
    assert (counts["succeeded"], counts["failed"], counts["retried"]) == (1, 0, 1)
    [trial] = study_trials(cluster, "evicted").values()
    [what] = trial.user_attrs["kubetune.interruptions"].values()
    assert what.startswith("Evicted: pod evicted-0-")
    assert "EvictionByEvictionAPI" in what


def test_node_lost_mid_trial_reruns_and_is_not_a_failure(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    _interrupted_study(cluster, "node-lost", None)
    pod = running_pod(cluster, "node-lost-0")
    node = pod.spec.node_name
    not_ready = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    cluster.core.patch_node_status(node, not_ready)
    try:
        cluster.wait_condition("node-lost", "Complete", timeout=90)
    finally:
        ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        cluster.core.patch_node_status(node, ready)
    counts = trials_status(cluster, "node-lost")
    assert (counts["succeeded"], counts["failed"], counts["retried"]) == (1, 0, 1)
    [trial] = study_trials(cluster, "node-lost").values()
    [what] = trial.user_attrs["kubetune.interruptions"].values()
    assert what.startswith("NodeLost: ")
    assert "DeletionByTaintManager" in what


def test_without_retries_an_interruption_fails_the_trial_naming_it(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    _interrupted_study(cluster, "no-retry", 0)
    pod = running_pod(cluster, "no-retry-0")
    cluster.core.create_namespaced_pod_eviction(
        pod.metadata.name, "default", {"metadata": {"name": pod.metadata.name}}
    )
    failed = cluster.wait_condition("no-retry", "Failed", timeout=90)
    assert failed["reason"] == "MaxFailedTrialsExceeded"
    counts = trials_status(cluster, "no-retry")
    assert (counts["failed"], counts["retried"]) == (1, 0)
    [trial] = study_trials(cluster, "no-retry").values()
    assert trial.user_attrs["kubetune.reason"] == "Evicted"
    message = trial.user_attrs["kubetune.message"]
    assert "EvictionByEvictionAPI" in message
    assert "maxTrialRetries 0" in message


def test_indexed_job_trial_records_index_0(cluster: Cluster, operator: OperatorProcess) -> None:
    manifest = tuningjob("ranks", mode="ranks", max_trials=1, parallel=1)
    manifest["spec"]["trialTemplate"]["spec"].update(
        completionMode="Indexed", completions=3, parallelism=3
    )
    cluster.apply(manifest)
    cluster.wait_condition("ranks", "Complete", timeout=90)
    assert len(trial_pods(cluster, "ranks-0")) == 3
    best = cluster.tuningjob("ranks")["status"]["bestTrial"]
    params = best["parameters"]
    # Index 1 printed 0.5 less and index 2 1.0 less: the trial keeps index 0's value.
    assert best["objective"] == pytest.approx(
        (params["x"] - 0.3) ** 2 + 0.01 * params["layers"], abs=1e-5
    )


def test_a_job_lost_to_an_interruption_is_relaunched_once_across_a_restart(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    """The template's own podFailurePolicy fails the whole Job on DisruptionTarget: the
    operator relaunches the trial (same name, number and parameters), and an operator killed
    during the rerun neither counts the interruption twice nor launches the trial again."""
    own = {"rules": [{"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    manifest = tuningjob(
        "relaunch",
        mode="slow",
        max_trials=1,
        parallel=1,
        container=SLOW,
        limits={"maxFailedTrials": 0},
    )
    manifest["spec"]["trialTemplate"]["spec"]["podFailurePolicy"] = own
    cluster.apply(manifest)
    pod = running_pod(cluster, "relaunch-0")
    lost = cluster.batch.read_namespaced_job("relaunch-0", "default")
    cluster.core.create_namespaced_pod_eviction(
        pod.metadata.name, "default", {"metadata": {"name": pod.metadata.name}}
    )

    def rerun() -> client.V1Job | None:
        jobs = cluster.batch.list_namespaced_job(
            "default", field_selector="metadata.name=relaunch-0"
        ).items
        return next((j for j in jobs if j.metadata.uid != lost.metadata.uid), None)

    again = eventually(rerun, message="the trial's Job created again")
    assert (
        again.metadata.annotations["kubetune.io/parameters"]
        == (lost.metadata.annotations["kubetune.io/parameters"])
    )
    operator.kill()
    operator.start()
    cluster.wait_condition("relaunch", "Complete", timeout=90)
    counts = trials_status(cluster, "relaunch")
    assert (counts["succeeded"], counts["failed"], counts["retried"], counts["total"]) == (
        1,
        0,
        1,
        1,
    )
    final = cluster.batch.read_namespaced_job("relaunch-0", "default")
    assert final.metadata.uid == again.metadata.uid  # launched once after the restart, not twice
    [trial] = study_trials(cluster, "relaunch").values()
    assert len(trial.user_attrs["kubetune.interruptions"]) == 1


def test_interruptions_journaled_survive_an_operator_restart(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    _interrupted_study(cluster, "restarted", None)
    pod = running_pod(cluster, "restarted-0")
    cluster.core.create_namespaced_pod_eviction(
        pod.metadata.name, "default", {"metadata": {"name": pod.metadata.name}}
    )
    eventually(lambda: trials_status(cluster, "restarted").get("retried") == 1, message="retried 1")
    operator.kill()
    operator.start()
    cluster.wait_condition("restarted", "Complete", timeout=90)
    counts = trials_status(cluster, "restarted")
    assert (counts["succeeded"], counts["failed"], counts["retried"]) == (1, 0, 1)
