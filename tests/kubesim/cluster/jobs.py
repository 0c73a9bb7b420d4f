"""The Job controller (batch/v1: NonIndexed and Indexed completion modes).

Modelled on kube-controller-manager's job controller, reduced to what a tuning operator
observes:

* pods are created from ``spec.template`` with ``generateName: <job>-`` and a controller
  ownerReference, at most ``parallelism`` active at once, until ``completions`` succeeded
  (``completions: null`` = work-queue style: done when one pod succeeded and none is active);
  Indexed Jobs give each pod an index (see :mod:`.indexed`) and complete when every index has
  a succeeded pod;
* failed pods count against ``backoffLimit`` (or, with ``backoffLimitPerIndex``, against their
  index's limit: the index fails, the others go on, and the Job fails with ``FailedIndexes``
  once nothing runs); each replacement waits an exponential backoff of 1s, 2s, 4s capped at
  :data:`BACKOFF_CAP_SECONDS` (kube uses 10s doubling to 6 min: too slow for tests); with
  ``restartPolicy: OnFailure`` container restarts count too, as in Kubernetes;
* ``podFailurePolicy`` judges each failed pod (:mod:`.pod_failure_policy`): ``Ignore``d pods are
  replaced without counting, ``FailJob`` fails the Job with reason ``PodFailurePolicy``,
  ``FailIndex`` fails the pod's index. With a policy (or ``podReplacementPolicy: Failed``) a
  replacement waits until the old pod has stopped, as in Kubernetes;
* ``activeDeadlineSeconds`` and an exceeded ``backoffLimit`` delete the active pods and set
  ``FailureTarget`` + ``Failed``; success sets ``SuccessCriteriaMet`` + ``Complete`` (1.31+);
* ``suspend`` deletes active pods (not counted as failures), sets ``Suspended`` (reason
  ``JobSuspended``) and clears ``startTime``; resuming sets ``Suspended=False`` (``JobResumed``)
  and a new ``startTime``, so the ``activeDeadlineSeconds`` timer stops while suspended and
  starts again from zero; ``ttlSecondsAfterFinished`` deletes the finished Job with background
  propagation (the server's GC then deletes its pods).

Scalability: one pods watch and one jobs watch for all Jobs; pods are indexed by their
controller's uid, every event enqueues just its Job, a deduplicating work queue with a few
workers syncs Jobs, and timers (``loop.call_later``) replace polling for backoff, deadlines and
TTLs. "Expectations" (pods created but not yet seen in the watch) prevent creating duplicates
when a Job is synced again before its new pods are observed, exactly as the real controller.
Terminal pods are counted once, by uid, so a succeeded pod deleted later is not un-counted; a
pod that disappears before it was counted is judged by its last state (the DELETED event's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from . import indexed
from .client import ApiClient, ApiError, Informer, Obj, job_path, object_key, pod_path
from .job_conditions import finished_condition, has_condition, now, parse_time, set_condition
from .job_counting import JobState, count_terminal, why_failed
from .job_pods import (
    build_pod,
    controller_uid,
    is_active,
    is_ready,
    is_terminating,
    owner_name,
    replaces_only_failed,
)

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 8.0
EXPECTATION_TIMEOUT_SECONDS = 30.0
WORKERS = 4

__all__ = ["JobController", "controller_uid", "finished_condition"]


class JobController:
    """Watches Jobs and their pods and drives each Job's pods toward its spec."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.jobs = Informer(client, "/apis/batch/v1/jobs", self._on_job, name="jobs/jobs")
        self.pods = Informer(client, "/api/v1/pods", self._on_pod, name="jobs/pods")
        self.state: dict[str, JobState] = {}  # job uid -> state
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.in_progress: set[str] = set()
        self.dirty: set[str] = set()

    # ---- events -----------------------------------------------------------------------------

    def enqueue(self, key: str) -> None:
        """Ask for a sync of ``key`` (namespace/name); duplicates collapse."""
        if key in self.in_progress:
            self.dirty.add(key)
        elif key not in self.queued:
            self.queued.add(key)
            self.queue.put_nowait(key)

    def _state_for(self, uid: str, key: str) -> JobState:
        state = self.state.get(uid)
        if state is None:
            state = self.state[uid] = JobState(key=key)
        return state

    def _on_job(self, kind: str, job: Obj, old: Obj | None) -> None:
        uid = job.get("metadata", {}).get("uid", "")
        key = object_key(job)
        if kind == "DELETED":
            self._forget(uid)
            return
        self._state_for(uid, key)
        self.enqueue(key)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        owner = controller_uid(pod)
        if owner is None:
            return
        meta = pod["metadata"]
        job_key = f"{meta.get('namespace')}/{owner_name(pod)}"
        state = self._state_for(owner, job_key)
        uid = meta.get("uid", "")
        if kind == "DELETED":
            state.pods.pop(uid, None)
            deleted_by_us = uid in state.deleting
            state.deleting.discard(uid)
            counted = uid in state.counted_succeeded or uid in state.counted_failed
            if not deleted_by_us and not counted and uid not in state.ignored:
                state.gone[uid] = pod  # the DELETED event carries its last state
            job = self.jobs.cache.get(job_key)
            if not state.pods and (job is None or job["metadata"].get("uid") != owner):
                self._forget(owner)  # the Job is gone and so are its pods
                return
        else:
            if kind == "ADDED" and uid not in state.pods and state.expected_adds > 0:
                state.expected_adds -= 1
            state.pods[uid] = pod
        self.enqueue(job_key)

    def _forget(self, uid: str) -> None:
        state = self.state.pop(uid, None)
        if state is not None:
            for timer in state.timers.values():
                timer.cancel()

    # ---- timers -----------------------------------------------------------------------------

    def _requeue_after(self, state: JobState, purpose: str, delay: float) -> None:
        """Sync the Job again in ``delay`` seconds (one timer per purpose, latest wins)."""
        self._cancel_timer(state, purpose)
        loop = asyncio.get_running_loop()
        state.timers[purpose] = loop.call_later(max(delay, 0.0) + 0.01, self.enqueue, state.key)

    def _cancel_timer(self, state: JobState, purpose: str) -> None:
        previous = state.timers.pop(purpose, None)
        if previous is not None:
            previous.cancel()

    # ---- sync -------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            self.queued.discard(key)
            self.in_progress.add(key)
            try:
                await self.sync(key)
            except Exception:
                log.exception("syncing job %s failed; retrying", key)
                await asyncio.sleep(0.5)
                self.dirty.add(key)
            finally:
                self.in_progress.discard(key)
                if key in self.dirty:
                    self.dirty.discard(key)
                    self.enqueue(key)

    async def sync(self, key: str) -> None:
        """Reconcile one Job: count pods, create/delete pods, update status."""
        job = self.jobs.cache.get(key)
        if job is None:
            return
        meta, spec = job["metadata"], job.get("spec", {})
        state = self._state_for(meta.get("uid", ""), key)
        # We are the only writer of Job status, and the cache may lag behind our last write.
        status: dict[str, Any] = state.written or job.get("status") or {}
        if finished_condition(job) is not None or finished_condition({"status": status}):
            await self._handle_ttl(job, state)
            return
        if meta.get("deletionTimestamp"):
            return  # being deleted (foreground): never start replacements for GC'd pods
        if (
            state.expected_adds > 0
            and time.time() - state.expectations_at < EXPECTATION_TIMEOUT_SECONDS
        ):
            return  # our own creations are still on their way through the watch
        state.expected_adds = 0

        pods = list(state.pods.values())
        count_terminal(state, spec, job.get("status") or {}, pods)
        succeeded = state.base_succeeded + len(state.counted_succeeded)
        if indexed.is_indexed(spec):
            succeeded = len(state.succeeded_indexes)
        active = [p for p in pods if is_active(p)]
        new_status: dict[str, Any] = {
            "active": len(active),
            "ready": sum(1 for p in active if is_ready(p)),
            "succeeded": succeeded,
            "failed": state.base_failed + len(state.counted_failed),
        }
        if indexed.is_indexed(spec):
            new_status["completedIndexes"] = indexed.format_indexes(state.succeeded_indexes)
            if spec.get("backoffLimitPerIndex") is not None:
                new_status["failedIndexes"] = indexed.format_indexes(state.failed_indexes) or ""
        conditions = [dict(c) for c in status.get("conditions") or []]
        start_time = status.get("startTime")

        if spec.get("suspend"):
            await self._delete_pods(state, active, count_as_failed=False)
            self._cancel_timer(state, "deadline")
            new_status.update(active=0, ready=0)
            set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended")
            start_time = None
        else:
            if has_condition(conditions, "Suspended"):
                set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed")
            start_time = start_time or now()
            terminating = [p for p in pods if is_terminating(p)]
            await self._advance(job, state, active, terminating, start_time, conditions, new_status)
        new_status["startTime"] = start_time
        new_status["conditions"] = conditions or None
        for counter in ("active", "succeeded", "failed"):
            # omitempty in the Go API types: a zero counter is absent, as kubectl shows it.
            new_status[counter] = new_status[counter] or None
        await self._write_status(job, state, status, new_status)

    async def _advance(
        self,
        job: Obj,
        state: JobState,
        active: list[Obj],
        terminating: list[Obj],
        start_time: str,
        conditions: list[dict[str, Any]],
        new_status: dict[str, Any],
    ) -> None:
        """A running Job: fail it, complete it, or create/delete pods (updates in place)."""
        spec = job.get("spec", {})
        succeeded, failed = new_status["succeeded"], new_status["failed"]
        failure = why_failed(spec, state, failed, active, terminating)
        if failure is None:
            failure = self._deadline(spec, state, start_time)
        if failure is not None:
            reason, message = failure
            await self._delete_pods(state, active, count_as_failed=True)
            new_status.update(active=0, ready=0, failed=failed + len(active))
            set_condition(conditions, "FailureTarget", "True", reason, message)
            set_condition(conditions, "Failed", "True", reason, message)
            return
        completions = spec.get("completions")
        if _is_complete(completions, succeeded, len(active)):
            await self._delete_pods(state, active, count_as_failed=False)  # leftovers, if any
            new_status.update(active=0, ready=0)
            message = "Reached expected number of succeeded pods"
            set_condition(conditions, "SuccessCriteriaMet", "True", "CompletionsReached", message)
            set_condition(conditions, "Complete", "True", "CompletionsReached", message)
            new_status["completionTime"] = now()
            return
        occupied = [*active, *terminating] if replaces_only_failed(spec) else active
        await self._scale(job, state, active, occupied, succeeded)
        new_status["active"] = len(active) + state.expected_adds

    def _deadline(self, spec: Obj, state: JobState, start_time: str) -> tuple[str, str] | None:
        """``activeDeadlineSeconds``, counted from ``startTime`` (reset on resume)."""
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is None:
            return None
        started = parse_time(start_time) or time.time()
        remaining = started + float(deadline) - time.time()
        if remaining <= 0:
            return "DeadlineExceeded", "Job was active longer than specified deadline"
        self._requeue_after(state, "deadline", remaining)
        return None

    async def _scale(
        self, job: Obj, state: JobState, active: list[Obj], occupied: list[Obj], succeeded: int
    ) -> None:
        """Create or delete pods so that the right number is active (``occupied`` = the pods
        that hold a slot: the active ones, plus stopping ones when only failed pods are
        replaced)."""
        spec = job.get("spec", {})
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) or 0)
        if completions is None:
            wanted = 0 if succeeded > 0 else parallelism
        else:
            wanted = min(parallelism, max(int(completions) - succeeded, 0))
        missing = wanted - len(occupied)
        if missing < 0 and len(active) > wanted:
            # Parallelism went down: remove the youngest pods, not-yet-running ones first.
            youngest_first = sorted(
                active, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True
            )
            victims = sorted(
                youngest_first, key=lambda p: p.get("status", {}).get("phase") == "Running"
            )[: len(active) - wanted]
            await self._delete_pods(state, victims, count_as_failed=False)
            return
        if missing <= 0:
            return
        indexes: list[int | None] = [None] * missing
        if indexed.is_indexed(spec):
            indexes = list(self._free_indexes(spec, state, occupied)[:missing])
            if not indexes:
                return
        if state.counted_failed:
            delay = min(
                BACKOFF_BASE_SECONDS * 2 ** (len(state.counted_failed) - 1), BACKOFF_CAP_SECONDS
            )
            wait = state.last_failure + delay - time.time()
            if wait > 0:
                self._requeue_after(state, "backoff", wait)
                return
        state.expected_adds = len(indexes)
        state.expectations_at = time.time()
        results = await asyncio.gather(
            *(self._create_pod(job, state, index) for index in indexes), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            state.expected_adds = max(0, state.expected_adds - 1)
            log.warning("job %s: creating a pod failed: %s", state.key, failure)
        if failures:
            # No watch event will come for a pod that was never created: retry on a timer.
            state.create_failures += 1
            self._requeue_after(state, "create", min(0.5 * 2**state.create_failures, 10.0))
        else:
            state.create_failures = 0

    @staticmethod
    def _free_indexes(spec: Obj, state: JobState, occupied: list[Obj]) -> list[int]:
        """Indexes with no succeeded, failed or running pod, lowest first."""
        taken = {indexed.pod_index(p) for p in occupied}
        done = state.succeeded_indexes | state.failed_indexes
        completions = int(spec.get("completions") or 0)
        return [i for i in range(completions) if i not in taken and i not in done]

    async def _create_pod(self, job: Obj, state: JobState, index: int | None) -> None:
        meta = job["metadata"]
        per_index = job.get("spec", {}).get("backoffLimitPerIndex") is not None
        failures = state.index_failures.get(index, 0) if per_index and index is not None else None
        pod = build_pod(job, index, failures)
        created = await self.client.create(pod_path(meta["namespace"]), pod)
        log.debug(
            "job %s/%s: created pod %s",
            meta["namespace"],
            meta["name"],
            created.get("metadata", {}).get("name"),
        )

    async def _delete_pods(
        self, state: JobState, pods: list[Obj], *, count_as_failed: bool
    ) -> None:
        """Delete pods; ``count_as_failed`` = they are killed because the Job failed (they are
        in ``status.failed`` already, so their DELETED events must not count them again)."""
        for pod in pods:
            uid = pod["metadata"].get("uid", "")
            state.deleting.add(uid)
            if count_as_failed:
                state.counted_failed.add(uid)
        await asyncio.gather(
            *(
                self.client.delete(pod_path(p["metadata"]["namespace"], p["metadata"]["name"]))
                for p in pods
            )
        )

    async def _handle_ttl(self, job: Obj, state: JobState) -> None:
        ttl = job.get("spec", {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        condition = finished_condition(job) or {}
        finished = (
            parse_time(job.get("status", {}).get("completionTime"))
            or parse_time(condition.get("lastTransitionTime"))
            or time.time()
        )
        remaining = finished + float(ttl) - time.time()
        if remaining > 0:
            self._requeue_after(state, "ttl", remaining)
            return
        meta = job["metadata"]
        log.info(
            "job %s/%s: ttlSecondsAfterFinished expired, deleting", meta["namespace"], meta["name"]
        )
        await self.client.delete(job_path(meta["namespace"], meta["name"]), "Background")

    async def _write_status(self, job: Obj, state: JobState, old: Obj, new: dict[str, Any]) -> None:
        """Merge-patch the status, only if something we own changed."""
        changes = {
            k: v for k, v in new.items() if old.get(k) != v and not (v is None and k not in old)
        }
        if not changes:
            return
        meta = job["metadata"]
        try:
            await self.client.patch(
                job_path(meta["namespace"], meta["name"], "status"), {"status": changes}
            )
        except ApiError as error:
            if error.status != 404:
                raise
            return
        written = {**old, **changes}
        state.written = {k: v for k, v in written.items() if v is not None}

    async def run(self) -> None:
        """Run until cancelled: pods first (so a Job's first sync sees its pods), then Jobs."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.pods.run())
            await self.pods.synced.wait()
            group.create_task(self.jobs.run())
            await self.jobs.synced.wait()
            for _ in range(WORKERS):
                group.create_task(self._worker())


def _is_complete(completions: int | None, succeeded: int, active: int) -> bool:
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= int(completions)
