"""What a trial's Job and pods say about it, as the reconcile core's ``RuntimeTrial``.

Pure functions over Kubernetes objects (plain dicts, as watches deliver them): which phase a
trial is in and, when it failed, the reason a user would look for (OOMKilled, Evicted,
DeadlineExceeded, the exit code), or why it is still Pending (Unschedulable and the scheduler's
message).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.names import LABEL_TRIAL


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


def _trial_number(metadata: Mapping[str, Any]) -> int | None:
    value = (metadata.get("labels") or {}).get(LABEL_TRIAL)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def job_view(job: Mapping[str, Any]) -> JobView | None:
    metadata = job.get("metadata") or {}
    number = _trial_number(metadata)
    if number is None:
        return None
    condition = reason = message = None
    finished = None
    status = job.get("status") or {}
    for item in status.get("conditions") or []:
        if item.get("type") in ("Complete", "Failed") and item.get("status") == "True":
            condition, reason, message = item["type"], item.get("reason"), item.get("message")
            finished = parse_time(item.get("lastTransitionTime") or status.get("completionTime"))
            break
    return JobView(
        name=metadata.get("name", ""),
        trial=number,
        created=parse_time(metadata.get("creationTimestamp")),
        condition=condition,
        reason=reason,
        message=message,
        deleting=bool(metadata.get("deletionTimestamp")),
        finished=finished,
    )


def pod_view(pod: Mapping[str, Any]) -> PodView | None:
    metadata = pod.get("metadata") or {}
    number = _trial_number(metadata)
    if number is None:
        return None
    status = pod.get("status") or {}
    unschedulable = None
    for item in status.get("conditions") or []:
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


def runtime_trial(job: JobView, pods: Iterable[PodView], primary: str) -> RuntimeTrial:
    """The trial's phase, without metrics (those come from the log once it succeeded)."""
    pods = [pod for pod in pods if pod.job_name in (None, job.name)]
    if job.condition == "Complete":
        return RuntimeTrial(job.trial, Phase.SUCCEEDED)
    if job.condition == "Failed":
        reason, message = _failure(job, pods, primary)
        return RuntimeTrial(job.trial, Phase.FAILED, reason, message)
    started = [pod for pod in pods if pod.phase != "Pending"]
    if started:
        return RuntimeTrial(job.trial, Phase.RUNNING)
    waiting = next((pod for pod in pods if pod.unschedulable), None)
    if waiting is None:
        return RuntimeTrial(job.trial, Phase.PENDING, pending_since=job.created)
    return RuntimeTrial(
        job.trial, Phase.PENDING, "Unschedulable", waiting.unschedulable, pending_since=job.created
    )


def succeeded_pod(pods: Iterable[PodView], job_name: str) -> PodView | None:
    """The pod whose log holds a completed trial's metrics."""
    done = [pod for pod in pods if pod.job_name in (None, job_name) and pod.phase == "Succeeded"]
    return max(done, key=lambda pod: pod.created or 0.0) if done else None
