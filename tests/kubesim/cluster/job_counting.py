"""A Job's pod accounting: which pods succeeded or failed, once each, and what that means.

Kept apart from the controller's event handling and pod creation so the rules (the backoff
limit, the pod failure policy, per-index limits) read in one place.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from . import indexed
from .client import Obj
from .job_pods import restarts
from .pod_failure_policy import FAIL_INDEX, FAIL_JOB, REASON, judge

DEFAULT_BACKOFF_LIMIT = 6
UNLIMITED = 2**31 - 1  # backoffLimit's default when backoffLimitPerIndex is set


@dataclass
class JobState:
    """In-memory bookkeeping for one Job, keyed by its uid."""

    key: str
    pods: dict[str, Obj] = field(default_factory=dict)  # pod uid -> latest pod
    counted_succeeded: set[str] = field(default_factory=set)
    counted_failed: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)  # failed, but the policy said Ignore
    gone: dict[str, Obj] = field(default_factory=dict)  # deleted before they were counted
    deleting: set[str] = field(default_factory=set)  # pods this controller deleted
    succeeded_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)
    index_failures: dict[int, int] = field(default_factory=dict)
    policy_failure: tuple[str, str] | None = None  # a FailJob rule matched
    base_succeeded: int = 0
    base_failed: int = 0
    written: dict[str, Any] | None = None  # the status as we last wrote it
    expected_adds: int = 0
    create_failures: int = 0
    expectations_at: float = 0.0
    last_failure: float = 0.0
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    initialized: bool = False


def count_terminal(state: JobState, spec: Obj, status: Obj, pods: list[Obj]) -> None:
    """Count terminal pods once each, by uid, plus pods deleted before they finished.

    On the first sync after a controller (re)start, the counters already in the Job's
    status become the base, minus the terminal pods still present (counted again here).
    """
    if not state.initialized:
        state.initialized = True
        present = {"Succeeded": 0, "Failed": 0}
        for pod in pods:
            phase = pod.get("status", {}).get("phase")
            if phase in present:
                present[phase] += 1
        state.base_succeeded = max(0, int(status.get("succeeded") or 0) - present["Succeeded"])
        state.base_failed = max(0, int(status.get("failed") or 0) - present["Failed"])
        state.succeeded_indexes = indexed.parse_indexes(status.get("completedIndexes"))
        state.failed_indexes = indexed.parse_indexes(status.get("failedIndexes"))
    for pod in [*pods, *state.gone.values()]:
        uid = pod["metadata"].get("uid", "")
        phase = pod.get("status", {}).get("phase")
        if uid in state.deleting or uid in state.counted_failed or uid in state.ignored:
            continue  # deleted by us while active (suspension, scale-down), or done with
        if phase == "Succeeded":
            state.counted_succeeded.add(uid)
            index = indexed.pod_index(pod)
            if index is not None and index not in state.failed_indexes:
                state.succeeded_indexes.add(index)
        elif phase == "Failed" or uid in state.gone:
            _judge_failure(state, spec, pod)
    state.gone.clear()


def _judge_failure(state: JobState, spec: Obj, pod: Obj) -> None:
    """Apply the podFailurePolicy (if any) and the per-index limit to one failed pod."""
    uid = pod["metadata"].get("uid", "")
    verdict = judge(spec.get("podFailurePolicy"), pod)
    if not verdict.counts:
        state.ignored.add(uid)
        return
    state.counted_failed.add(uid)
    state.last_failure = time.time()
    if verdict.action == FAIL_JOB and state.policy_failure is None:
        state.policy_failure = (REASON, verdict.message or "")
    index = indexed.pod_index(pod)
    limit = spec.get("backoffLimitPerIndex")
    if index is None or limit is None:
        return
    failures = indexed.failure_count(pod) + 1
    state.index_failures[index] = max(state.index_failures.get(index, 0), failures)
    if verdict.action == FAIL_INDEX or failures > int(limit):
        state.failed_indexes.add(index)


def why_failed(
    spec: Obj, state: JobState, failed: int, active: list[Obj], terminating: list[Obj]
) -> tuple[str, str] | None:
    """Reason and message if the Job has failed on its pods' account (the controller's order:
    a FailJob rule, the backoff limit, then failed indexes); deadlines are the caller's."""
    if state.policy_failure is not None:
        return state.policy_failure
    raw_limit = spec.get("backoffLimit")
    per_index = spec.get("backoffLimitPerIndex") is not None
    default = UNLIMITED if per_index else DEFAULT_BACKOFF_LIMIT
    backoff_limit = default if raw_limit is None else int(raw_limit)
    if failed > backoff_limit:
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    if spec.get("template", {}).get("spec", {}).get("restartPolicy") == "OnFailure":
        # In-place container restarts of live pods count as retries (pastBackoffLimit...).
        restarted = sum(restarts(p) for p in active)
        if restarted > 0 and restarted >= backoff_limit:
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    if per_index and state.failed_indexes:
        max_failed = spec.get("maxFailedIndexes")
        if max_failed is not None and len(state.failed_indexes) > int(max_failed):
            return (
                "MaxFailedIndexesExceeded",
                "Job has exceeded the specified maximal number of failed indexes",
            )
        finished = state.succeeded_indexes | state.failed_indexes
        if len(finished) >= int(spec.get("completions") or 0) and not (active or terminating):
            return "FailedIndexes", "Job has failed indexes"
    return None
