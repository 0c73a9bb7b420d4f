"""What a trial's Job and pods say about it: phases and the reasons users look for."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase
from kubetune.runtime.kubernetes.observe import (
    job_view,
    pod_view,
    runtime_trial,
    succeeded_pod,
)

CREATED = "2026-11-23T10:00:00Z"


def job(conditions: list[dict[str, Any]] | None = None, trial: str = "3") -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"study-{trial}",
            "creationTimestamp": CREATED,
            "labels": {"kubetune.io/tuningjob": "study", "kubetune.io/trial": trial},
        },
        "status": {"conditions": conditions or []},
    }


def pod(
    phase: str = "Running",
    terminated: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "train", "state": {"running": {}}}
    if terminated is not None:
        container["state"] = {"terminated": terminated}
    return {
        "metadata": {
            "name": "study-3-abcde",
            "creationTimestamp": CREATED,
            "labels": {"kubetune.io/trial": "3", "batch.kubernetes.io/job-name": "study-3"},
        },
        "status": {
            "phase": phase,
            "conditions": conditions or [],
            "containerStatuses": [container],
            **status,
        },
    }


def observe(job_body: dict[str, Any], *pods: dict[str, Any]) -> Any:
    view = job_view(job_body)
    assert view is not None
    pod_views = [v for v in (pod_view(p) for p in pods) if v is not None]
    return runtime_trial(view, pod_views, "train")


def failed(reason: str, message: str = "") -> list[dict[str, Any]]:
    return [{"type": "Failed", "status": "True", "reason": reason, "message": message}]


def test_objects_without_a_trial_label_are_ignored() -> None:
    body = job()
    del body["metadata"]["labels"]["kubetune.io/trial"]
    assert job_view(body) is None
    assert job_view(job(trial="not-a-number")) is None


def test_complete_job_succeeds() -> None:
    trial = observe(job([{"type": "Complete", "status": "True"}]), pod("Succeeded"))
    assert trial.number == 3
    assert trial.phase is Phase.SUCCEEDED


def test_running_pod_means_running() -> None:
    assert observe(job(), pod("Running")).phase is Phase.RUNNING


def test_unschedulable_pod_is_pending_with_the_schedulers_message() -> None:
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    unschedulable = [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    ]
    trial = observe(job(), pod("Pending", conditions=unschedulable))
    assert trial.phase is Phase.PENDING
    assert trial.reason == "Unschedulable"
    assert trial.message == message
    assert trial.pending_since == pytest.approx(1795428000.0)


def test_job_without_pods_yet_is_pending_without_reason() -> None:
    trial = observe(job())
    assert trial.phase is Phase.PENDING
    assert trial.reason is None


@pytest.mark.parametrize(
    ("job_reason", "pod_body", "reason", "fragment"),
    [
        (
            "BackoffLimitExceeded",
            pod("Failed", terminated={"reason": "OOMKilled", "exitCode": 137}),
            TrialReason.OOM_KILLED,
            "ran out of memory",
        ),
        (
            "BackoffLimitExceeded",
            pod("Failed", reason="Evicted", message="The node was low on resource: memory."),
            TrialReason.EVICTED,
            "low on resource",
        ),
        (
            "DeadlineExceeded",
            pod("Failed", terminated={"reason": "Error", "exitCode": 143}),
            TrialReason.DEADLINE_EXCEEDED,
            "deadline",
        ),
        (
            "BackoffLimitExceeded",
            pod("Failed", terminated={"reason": "Error", "exitCode": 2}),
            TrialReason.ERROR,
            "exited with code 2",
        ),
    ],
)
def test_failed_job_reports_the_most_specific_reason(
    job_reason: str, pod_body: dict[str, Any], reason: str, fragment: str
) -> None:
    trial = observe(job(failed(job_reason, "Job was active longer than deadline")), pod_body)
    assert trial.phase is Phase.FAILED
    assert trial.reason == reason
    assert fragment in (trial.message or "")


def test_pods_of_another_job_are_not_mixed_in() -> None:
    other = pod("Failed", terminated={"reason": "OOMKilled", "exitCode": 137})
    other["metadata"]["labels"]["batch.kubernetes.io/job-name"] = "study-3-old"
    trial = observe(job(failed("BackoffLimitExceeded")), other)
    assert trial.reason == TrialReason.ERROR


def test_succeeded_pod_picks_the_latest_successful_pod() -> None:
    first, second = pod("Succeeded"), pod("Succeeded")
    second["metadata"]["name"] = "study-3-later"
    second["metadata"]["creationTimestamp"] = "2026-11-23T10:05:00Z"
    views = [v for v in (pod_view(first), pod_view(second), pod_view(pod("Failed"))) if v]
    chosen = succeeded_pod(views, "study-3")
    assert chosen is not None
    assert chosen.name == "study-3-later"
    assert succeeded_pod([v for v in [pod_view(pod("Failed"))] if v], "study-3") is None


# --- queues, interruptions and multi-pod trials -------------------------------------------

RESUMED = "2026-11-23T10:05:00Z"


def suspended_job(suspend: bool, condition: str | None) -> dict[str, Any]:
    body = job(
        [{"type": "Suspended", "status": condition, "lastTransitionTime": RESUMED}]
        if condition
        else []
    )
    body["spec"] = {"suspend": suspend}
    body["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] = "team-a"
    return body


def test_a_suspended_job_is_queued_not_pending() -> None:
    trial = observe(suspended_job(True, "True"))
    assert trial.phase is Phase.QUEUED
    assert trial.message == "Job study-3 is suspended, waiting in queue team-a to be admitted"
    view = job_view(suspended_job(True, "True"))
    assert view is not None
    assert trial.queued_since == view.suspended_since
    assert view.suspended_since is not None


def test_resumed_in_spec_but_not_yet_by_the_controller_is_still_queued() -> None:
    assert observe(suspended_job(False, "True")).phase is Phase.QUEUED


def test_pending_counts_from_the_resume() -> None:
    trial = observe(suspended_job(False, "False"), pod("Pending"))
    assert trial.phase is Phase.PENDING
    view = job_view(suspended_job(False, "False"))
    assert view is not None
    assert trial.pending_since == view.resumed_at
    assert view.created is not None
    assert trial.pending_since > view.created


def disrupted(reason: str, phase: str = "Running") -> dict[str, Any]:
    condition = {"type": "DisruptionTarget", "status": "True", "reason": reason, "message": "m"}
    body = pod(phase, conditions=[condition])
    body["metadata"]["uid"] = "pod-uid"
    return body


def test_a_disrupted_pod_is_an_interruption_of_a_running_trial() -> None:
    trial = observe(job(), disrupted("PreemptionByScheduler"), pod("Running"))
    assert trial.phase is Phase.RUNNING
    assert trial.interruptions == {
        "pod-uid": "Preempted: pod study-3-abcde was interrupted (PreemptionByScheduler: m)"
    }
    assert not trial.interrupted


def test_a_job_failed_by_an_interruption_may_run_again() -> None:
    body = job(failed("BackoffLimitExceeded"))
    body["metadata"]["uid"] = "job-uid"
    trial = observe(body, disrupted("DeletionByTaintManager", "Failed"))
    assert trial.phase is Phase.FAILED
    assert trial.interrupted
    assert trial.reason == "NodeLost"
    assert set(trial.interruptions) == {"pod-uid"}  # one interruption, counted once
    unseen = observe(job(failed("PodFailurePolicy", "Pod a/b has condition DisruptionTarget")))
    assert unseen.interrupted
    assert set(unseen.interruptions) == {"job/"}


def test_a_training_failure_is_not_an_interruption() -> None:
    trial = observe(job(failed("PodFailurePolicy", "Container train ... exit code 1")))
    assert trial.phase is Phase.FAILED
    assert not trial.interrupted
