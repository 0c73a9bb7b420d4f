"""What a trial's Job and pods say about it, as the reconcile core's ``RuntimeTrial``.

Pure functions over Kubernetes objects (plain dicts, as watches deliver them): which phase a
trial is in and, when it failed, the reason a user would look for (OOMKilled, Evicted,
DeadlineExceeded, the exit code), or why it is still Pending (Unschedulable and the scheduler's
message).

A suspended Job (Kueue holds it until admitted, or a user paused it, or it was created
suspended) is *queued*, neither pending nor failed. A pod with the ``DisruptionTarget``
condition was interrupted by the infrastructure (Eviction API, preemption, node loss); the
rendered ``podFailurePolicy`` makes the Job replace it, and the trial only counts it. A Job that
failed *because of* such an interruption is ``interrupted``: the trial may run again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.names import LABEL_TRIAL

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# DisruptionTarget reasons (k8s.io/api/core/v1) -> the trial reason a user reads.
DISRUPTION_REASONS = {
    "EvictionByEvictionAPI": TrialReason.EVICTED,
    "TerminationByKubelet": TrialReason.EVICTED,
    "PreemptionByScheduler": TrialReason.PREEMPTED,
    "PreemptionByKubeScheduler": TrialReason.PREEMPTED,
    "DeletionByTaintManager": TrialReason.NODE_LOST,
    "DeletionByPodGC": TrialReason.NODE_LOST,
}


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class JobView:
    """The parts of a trial Job the tuner needs."""

    name: str
    trial: int
    created: float | None
    condition: str | None  # Complete | Failed | None while running
    reason: str | None = None
    message: str | None = None
    deleting: bool = False
    finished: float | None = None  # when it completed or failed (epoch seconds)
    uid: str = ""
    suspended: bool = False
    suspended_since: float | None = None  # the Suspended=True condition's transition
    resumed_at: float | None = None  # the Suspended=False condition's transition
    queue: str | None = None  # Kueue's queue-name label, if any
    indexed: bool = False  # completionMode Indexed: one pod per completion index
    kind: str = "Job"
    # Every True condition of the object: type -> (reason, message, lastTransitionTime). For
    # kinds other than Job, the TuningJob's successCondition/failureCondition pick from them.
    true_conditions: Mapping[str, tuple[str | None, str | None, float | None]] = field(
        default_factory=dict
    )

    @property
    def is_job(self) -> bool:
        return self.kind == "Job"

    def owns(self, pod: PodView) -> bool:
        """Whether ``pod`` is this workload's (a Job's pods name it; other kinds' pods belong to
        child objects, such as a JobSet's Jobs, and are matched by the trial label alone)."""
        return not self.is_job or pod.job_name in (None, self.name)


@dataclass(frozen=True)
class ContainerEnd:
    reason: str | None
    exit_code: int | None
    message: str | None = None


@dataclass(frozen=True)
class PodView:
    """The parts of a trial pod the tuner needs."""

    name: str
    trial: int
    job_name: str | None
    phase: str
    created: float | None
    reason: str | None = None  # pod-level, e.g. Evicted
    message: str | None = None
    unschedulable: str | None = None  # the scheduler's message while it cannot be placed
    ended: Mapping[str, ContainerEnd] = field(default_factory=dict)
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    disruption: tuple[str, str] | None = None  # DisruptionTarget=True: (reason, message)


def _trial_number(metadata: Mapping[str, Any]) -> int | None:
    value = (metadata.get("labels") or {}).get(LABEL_TRIAL)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def job_view(job: Mapping[str, Any]) -> JobView | None:
    metadata = job.get("metadata") or {}
    number = _trial_number(metadata)
    if number is None:
        return None
    condition = reason = message = None
    finished = suspended_since = resumed_at = None
    status = job.get("status") or {}
    spec = job.get("spec") or {}
    kind = str(job.get("kind") or "Job")
    true_conditions = {
        str(item.get("type")): (
            item.get("reason"),
            item.get("message"),
            parse_time(item.get("lastTransitionTime")),
        )
        for item in status.get("conditions") or []
        if item.get("status") == "True"
    }
    for item in status.get("conditions") or []:
        if item.get("type") == "Suspended":
            when = parse_time(item.get("lastTransitionTime"))
            if item.get("status") == "True":
                suspended_since = when
            else:
                resumed_at = when
        if (
            condition is None
            and kind == "Job"
            and item.get("type") in ("Complete", "Failed")
            and item.get("status") == "True"
        ):
            condition, reason, message = item["type"], item.get("reason"), item.get("message")
            finished = parse_time(item.get("lastTransitionTime") or status.get("completionTime"))
    return JobView(
        name=metadata.get("name", ""),
        trial=number,
        created=parse_time(metadata.get("creationTimestamp")),
        condition=condition,
        reason=reason,
        message=message,
        deleting=bool(metadata.get("deletionTimestamp")),
        finished=finished,
        uid=metadata.get("uid", ""),
        # Resumed in its spec but not yet by the Job controller (Suspended still True): still
        # queued, so that pendingTimeout counts from the resume the controller records.
        suspended=bool(spec.get("suspend")) or suspended_since is not None,
        suspended_since=suspended_since,
        resumed_at=resumed_at,
        queue=(metadata.get("labels") or {}).get(KUEUE_QUEUE_LABEL),
        indexed=spec.get("completionMode") == "Indexed",
        kind=kind,
        true_conditions=true_conditions,
    )


def with_outcome(view: JobView, success: str, failure: str) -> JobView:
    """A workload of another kind with ``condition`` set as a Job's would be: Complete when its
    ``success`` condition is True, Failed when its ``failure`` condition is."""
    if view.is_job:
        return view
    for wanted, as_job in ((failure, "Failed"), (success, "Complete")):
        found = view.true_conditions.get(wanted)
        if found is not None:
            reason, message, when = found
            return replace(
                view,
                condition=as_job,
                reason=reason or wanted,
                message=message or f"{view.kind} {view.name}: {wanted}",
                finished=when,
            )
    return view


def pod_view(pod: Mapping[str, Any]) -> PodView | None:
    metadata = pod.get("metadata") or {}
    number = _trial_number(metadata)
    if number is None:
        return None
    status = pod.get("status") or {}
    unschedulable = None
    disruption = None
    for item in status.get("conditions") or []:
        if item.get("type") == "DisruptionTarget" and item.get("status") == "True":
            disruption = (str(item.get("reason") or ""), str(item.get("message") or ""))
        if (
            item.get("type") == "PodScheduled"
            and item.get("status") == "False"
            and item.get("reason") == "Unschedulable"
        ):
            unschedulable = item.get("message") or "Unschedulable"
    ended = {}
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated") or (
            container.get("lastState") or {}
        ).get("terminated")
        if terminated:
            ended[container.get("name", "")] = ContainerEnd(
                terminated.get("reason"), terminated.get("exitCode"), terminated.get("message")
            )
    labels = metadata.get("labels") or {}
    return PodView(
        name=metadata.get("name", ""),
        trial=number,
        job_name=labels.get("batch.kubernetes.io/job-name") or labels.get("job-name"),
        phase=status.get("phase", "Pending"),
        created=parse_time(metadata.get("creationTimestamp")),
        reason=status.get("reason"),
        message=status.get("message"),
        unschedulable=unschedulable,
        ended=ended,
        uid=metadata.get("uid", ""),
        labels=dict(labels),
        disruption=disruption,
    )


def _failure(job: JobView, pods: Iterable[PodView], primary: str) -> tuple[str, str]:
    """The most specific reason a failed trial has, and a message saying what happened."""
    pods = list(pods)
    for pod in pods:
        if pod.reason == "Evicted":
            return TrialReason.EVICTED, f"pod {pod.name} was evicted: {pod.message or ''}".strip()
    for pod in pods:
        end = pod.ended.get(primary)
        if end is not None and end.reason == "OOMKilled":
            return (
                TrialReason.OOM_KILLED,
                f"container {primary} of pod {pod.name} ran out of memory",
            )
    if job.reason == "DeadlineExceeded":
        return TrialReason.DEADLINE_EXCEEDED, job.message or "the trial ran past trialTimeout"
    for pod in pods:
        end = pod.ended.get(primary)
        if end is not None and end.exit_code not in (None, 0):
            detail = f": {end.message}" if end.message else ""
            return (
                TrialReason.ERROR,
                f"container {primary} exited with code {end.exit_code}{detail}",
            )
    return TrialReason.ERROR, job.message or f"Job failed ({job.reason or 'no reason given'})"


def interruption(pod: PodView) -> str | None:
    """What interrupted the pod, as journaled: ``"<TrialReason>: <what happened>"``."""
    if pod.disruption is None:
        return None
    kind, detail = pod.disruption
    reason = DISRUPTION_REASONS.get(kind, TrialReason.EVICTED)
    return f"{reason.value}: pod {pod.name} was interrupted ({kind}: {detail})"


def _lost_to_interruption(job: JobView, pods: list[PodView]) -> str | None:
    """Why a failed Job failed because of an interruption (journal text), if it did: a
    template's own podFailurePolicy failing it on DisruptionTarget, or its last failed pod
    disrupted."""
    if job.reason == "PodFailurePolicy" and "DisruptionTarget" in (job.message or ""):
        return f"{TrialReason.EVICTED.value}: Job {job.name} failed: {job.message}"
    if job.reason == "DeadlineExceeded":
        return None
    failed = [p for p in pods if p.phase == "Failed"]
    last = max(failed, key=lambda p: p.created or 0.0) if failed else None
    return interruption(last) if last is not None else None


def runtime_trial(
    job: JobView,
    pods: Iterable[PodView],
    primary: str,
    seen: Mapping[str, str] | None = None,
) -> RuntimeTrial:
    """The trial's phase, without metrics (those come from the log once it succeeded).

    ``seen``: interruptions of the trial's pods noticed earlier (pods since gone), by pod uid.
    """
    pods = [pod for pod in pods if job.owns(pod)]
    interruptions = dict(seen or {})
    for pod in pods:
        text = interruption(pod)
        if text is not None:
            interruptions[pod.uid] = text
    if job.condition == "Complete":
        return RuntimeTrial(job.trial, Phase.SUCCEEDED, interruptions=interruptions)
    if job.condition == "Failed":
        lost = _lost_to_interruption(job, pods)
        if lost is not None:
            if not interruptions:  # the disrupted pod is gone unseen: the Job stands for it
                interruptions[f"job/{job.uid}"] = lost
            reason, _, message = lost.partition(": ")
            return RuntimeTrial(
                job.trial,
                Phase.FAILED,
                reason,
                message,
                interruptions=interruptions,
                interrupted=True,
            )
        reason, message = _failure(job, pods, primary)
        return RuntimeTrial(job.trial, Phase.FAILED, reason, message, interruptions=interruptions)
    if job.suspended:
        queue = f" {job.queue}" if job.queue else ""
        return RuntimeTrial(
            job.trial,
            Phase.QUEUED,
            "Queued",
            f"Job {job.name} is suspended, waiting in queue{queue} to be admitted",
            queued_since=job.suspended_since or job.created,
            interruptions=interruptions,
        )
    active = [pod for pod in pods if pod.phase not in ("Succeeded", "Failed")]
    started = any(pod.phase != "Pending" for pod in active)
    if started or (pods and not active):  # running, or finished before the Job says so
        return RuntimeTrial(job.trial, Phase.RUNNING, interruptions=interruptions)
    # Runnable and unscheduled since the latest of: created, resumed, its pod (re)created.
    moments = [job.created, job.resumed_at, *(pod.created for pod in active)]
    since = max((m for m in moments if m is not None), default=None)
    waiting = next((pod for pod in active if pod.unschedulable), None)
    if waiting is None:
        return RuntimeTrial(
            job.trial, Phase.PENDING, pending_since=since, interruptions=interruptions
        )
    return RuntimeTrial(
        job.trial,
        Phase.PENDING,
        "Unschedulable",
        waiting.unschedulable,
        pending_since=since,
        interruptions=interruptions,
    )


def primary_pods(pods: Iterable[PodView], job: JobView, labels: Mapping[str, str]) -> list[PodView]:
    """The pods whose log holds the metrics: those matching ``labels``
    (trialTemplate.primaryPod), or completion index 0's for an Indexed Job, or all of them."""
    mine = [pod for pod in pods if job.owns(pod)]
    if not labels and job.indexed:
        labels = {COMPLETION_INDEX: "0"}
    return [pod for pod in mine if all(pod.labels.get(k) == v for k, v in labels.items())]


def succeeded_pod(pods: Iterable[PodView], job_name: str | None) -> PodView | None:
    """The pod whose log holds a completed trial's metrics."""
    done = [
        pod
        for pod in pods
        if (job_name is None or pod.job_name in (None, job_name)) and pod.phase == "Succeeded"
    ]
    return max(done, key=lambda pod: pod.created or 0.0) if done else None
