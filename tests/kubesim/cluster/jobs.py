"""The Job controller (batch/v1, NonIndexed completion mode).

Modelled on kube-controller-manager's job controller, reduced to what a tuning operator
observes:

* pods are created from ``spec.template`` with ``generateName: <job>-`` and a controller
  ownerReference, at most ``parallelism`` active at once, until ``completions`` succeeded
  (``completions: null`` = work-queue style: done when one pod succeeded and none is active);
* failed pods count against ``backoffLimit``; each replacement waits an exponential backoff of
  1s, 2s, 4s capped at :data:`BACKOFF_CAP_SECONDS` (kube uses 10s doubling to 6 min: too slow for
  tests); with ``restartPolicy: OnFailure`` container restarts count too, as in Kubernetes;
* ``activeDeadlineSeconds`` and an exceeded ``backoffLimit`` delete the active pods and set
  ``FailureTarget`` + ``Failed``; success sets ``SuccessCriteriaMet`` + ``Complete`` (1.31+);
* ``suspend`` deletes active pods and sets ``Suspended``; ``ttlSecondsAfterFinished`` deletes
  the finished Job with background propagation (the server's GC then deletes its pods).

Scalability: one pods watch and one jobs watch for all Jobs; pods are indexed by their
controller's uid, every event enqueues just its Job, a deduplicating work queue with a few
workers syncs Jobs, and timers (``loop.call_later``) replace polling for backoff, deadlines and
TTLs. "Expectations" (pods created but not yet seen in the watch) prevent creating duplicates
when a Job is synced again before its new pods are observed, exactly as the real controller.
Terminal pods are counted once, by uid, so a succeeded pod deleted later is not un-counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .client import ApiClient, ApiError, Informer, Obj, job_path, object_key, pod_path

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 8.0
EXPECTATION_TIMEOUT_SECONDS = 30.0
WORKERS = 4
TERMINAL_PHASES = ("Succeeded", "Failed")
FINISHED_TYPES = ("Complete", "Failed")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def controller_uid(pod: Obj) -> str | None:
    """The uid of the Job that controls ``pod`` (its controller ownerReference), if any."""
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return str(ref.get("uid"))
    return None


def finished_condition(job: Obj) -> Obj | None:
    """The Job's ``Complete`` or ``Failed`` condition if it is True."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in FINISHED_TYPES and condition.get("status") == "True":
            return condition  # type: ignore[no-any-return]
    return None


def _is_active(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") not in TERMINAL_PHASES and not pod.get(
        "metadata", {}
    ).get("deletionTimestamp")


def _is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def _restarts(pod: Obj) -> int:
    status = pod.get("status", {})
    return sum(
        int(c.get("restartCount") or 0)
        for c in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
    )


@dataclass
class JobState:
    """In-memory bookkeeping for one Job, keyed by its uid."""

    key: str
    pods: dict[str, Obj] = field(default_factory=dict)  # pod uid -> latest pod
    counted_succeeded: set[str] = field(default_factory=set)
    counted_failed: set[str] = field(default_factory=set)
    deleted_active: set[str] = field(default_factory=set)  # deleted before finishing
    deleting: set[str] = field(default_factory=set)  # pods this controller deleted
    base_succeeded: int = 0
    base_failed: int = 0
    written: dict[str, Any] | None = None  # the status as we last wrote it
    expected_adds: int = 0
    create_failures: int = 0
    expectations_at: float = 0.0
    last_failure: float = 0.0
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    initialized: bool = False


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
        job_key = f"{meta.get('namespace')}/{_owner_name(pod)}"
        state = self._state_for(owner, job_key)
        uid = meta.get("uid", "")
        if kind == "DELETED":
            previous = state.pods.pop(uid, None)
            deleted_by_us = uid in state.deleting
            state.deleting.discard(uid)
            if (
                previous is not None
                and not deleted_by_us
                and previous.get("status", {}).get("phase") not in TERMINAL_PHASES
            ):
                state.deleted_active.add(uid)
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
        previous = state.timers.pop(purpose, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        state.timers[purpose] = loop.call_later(max(delay, 0.0) + 0.01, self.enqueue, state.key)

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
        now = time.time()

        if finished_condition(job) is not None or finished_condition({"status": status}):
            await self._handle_ttl(job, state)
            return
        if meta.get("deletionTimestamp"):
            return  # being deleted (foreground): never start replacements for GC'd pods
        if state.expected_adds > 0 and now - state.expectations_at < EXPECTATION_TIMEOUT_SECONDS:
            return  # our own creations are still on their way through the watch
        state.expected_adds = 0

        pods = list(state.pods.values())
        self._count_terminal(state, job.get("status") or {}, pods)
        succeeded = state.base_succeeded + len(state.counted_succeeded)
        failed = state.base_failed + len(state.counted_failed)
        active = [p for p in pods if _is_active(p)]
        new_status: dict[str, Any] = {
            "active": len(active),
            "ready": sum(1 for p in active if _is_ready(p)),
            "succeeded": succeeded,
            "failed": failed,
        }
        conditions = [dict(c) for c in status.get("conditions") or []]
        start_time = status.get("startTime")

        if spec.get("suspend"):
            await self._delete_pods(state, active, count_as_failed=False)
            new_status.update(active=0, ready=0)
            _set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended")
            start_time = None
        else:
            if _has_condition(conditions, "Suspended"):
                _set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed")
            start_time = start_time or _now()
            await self._advance(job, state, active, start_time, conditions, new_status)
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
        start_time: str,
        conditions: list[dict[str, Any]],
        new_status: dict[str, Any],
    ) -> None:
        """A running Job: fail it, complete it, or create/delete pods (updates in place)."""
        spec = job.get("spec", {})
        succeeded, failed = new_status["succeeded"], new_status["failed"]
        failure = self._failure(spec, failed, active, start_time, state)
        if failure is not None:
            reason, message = failure
            await self._delete_pods(state, active, count_as_failed=True)
            new_status.update(active=0, ready=0, failed=failed + len(active))
            _set_condition(conditions, "FailureTarget", "True", reason, message)
            _set_condition(conditions, "Failed", "True", reason, message)
            return
        completions = spec.get("completions")
        if _is_complete(completions, succeeded, len(active)):
            await self._delete_pods(state, active, count_as_failed=False)  # leftovers, if any
            new_status.update(active=0, ready=0)
            message = "Reached expected number of succeeded pods"
            _set_condition(conditions, "SuccessCriteriaMet", "True", "CompletionsReached", message)
            _set_condition(conditions, "Complete", "True", "CompletionsReached", message)
            new_status["completionTime"] = _now()
            return
        parallelism = int(spec.get("parallelism", 1) or 0)
        await self._scale(job, state, active, succeeded, completions, parallelism)
        new_status["active"] = len(active) + state.expected_adds

    def _count_terminal(self, state: JobState, status: Obj, pods: list[Obj]) -> None:
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
        for pod in pods:
            uid = pod["metadata"].get("uid", "")
            phase = pod.get("status", {}).get("phase")
            if phase == "Succeeded":
                state.counted_succeeded.add(uid)
            elif phase == "Failed" and uid not in state.counted_failed:
                state.counted_failed.add(uid)
                state.last_failure = time.time()
        for uid in state.deleted_active:
            if uid not in state.counted_succeeded and uid not in state.counted_failed:
                state.counted_failed.add(uid)
                state.last_failure = time.time()
        state.deleted_active.clear()

    def _failure(
        self, spec: Obj, failed: int, active: list[Obj], start_time: str, state: JobState
    ) -> tuple[str, str] | None:
        """Why the Job has failed, if it has: the backoff limit or the active deadline."""
        raw_limit = spec.get("backoffLimit")
        backoff_limit = 6 if raw_limit is None else int(raw_limit)
        if failed > backoff_limit:
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        if spec.get("template", {}).get("spec", {}).get("restartPolicy") == "OnFailure":
            # In-place container restarts of live pods count as retries (pastBackoffLimit...).
            restarts = sum(_restarts(p) for p in active)
            if restarts > 0 and restarts >= backoff_limit:
                return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None:
            started = _parse_time(start_time) or time.time()
            remaining = started + float(deadline) - time.time()
            if remaining <= 0:
                return "DeadlineExceeded", "Job was active longer than specified deadline"
            self._requeue_after(state, "deadline", remaining)
        return None

    async def _scale(
        self,
        job: Obj,
        state: JobState,
        active: list[Obj],
        succeeded: int,
        completions: int | None,
        parallelism: int,
    ) -> None:
        """Create or delete pods so that the right number is active."""
        if completions is None:
            wanted = 0 if succeeded > 0 else parallelism
        else:
            wanted = min(parallelism, max(int(completions) - succeeded, 0))
        missing = wanted - len(active)
        if missing < 0:
            # Parallelism went down: remove the youngest pods, not-yet-running ones first.
            youngest_first = sorted(
                active, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True
            )
            victims = sorted(
                youngest_first, key=lambda p: p.get("status", {}).get("phase") == "Running"
            )[:-missing]
            await self._delete_pods(state, victims, count_as_failed=False)
            return
        if missing == 0:
            return
        if state.counted_failed:
            delay = min(
                BACKOFF_BASE_SECONDS * 2 ** (len(state.counted_failed) - 1), BACKOFF_CAP_SECONDS
            )
            wait = state.last_failure + delay - time.time()
            if wait > 0:
                self._requeue_after(state, "backoff", wait)
                return
        state.expected_adds = missing
        state.expectations_at = time.time()
        results = await asyncio.gather(
            *(self._create_pod(job) for _ in range(missing)), return_exceptions=True
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

    async def _create_pod(self, job: Obj) -> None:
        meta = job["metadata"]
        template = job.get("spec", {}).get("template", {})
        template_meta = template.get("metadata") or {}
        labels = dict(template_meta.get("labels") or {})
        labels.setdefault("controller-uid", meta["uid"])
        labels.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])
        labels.setdefault("job-name", meta["name"])
        labels.setdefault("batch.kubernetes.io/job-name", meta["name"])
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{meta['name']}-",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": dict(template_meta.get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template.get("spec", {}),
        }
        if template_meta.get("finalizers"):
            pod["metadata"]["finalizers"] = list(template_meta["finalizers"])
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
            _parse_time(job.get("status", {}).get("completionTime"))
            or _parse_time(condition.get("lastTransitionTime"))
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


def _owner_name(pod: Obj) -> str:
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return str(ref.get("name"))
    return ""


def _is_complete(completions: int | None, succeeded: int, active: int) -> bool:
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= int(completions)


def _has_condition(conditions: list[dict[str, Any]], kind: str) -> bool:
    return any(c.get("type") == kind for c in conditions)


def _set_condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str
) -> None:
    """Add or update a condition in place, keeping lastTransitionTime when status is unchanged."""
    now = _now()
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now
            condition.update(status=status, reason=reason, message=message, lastProbeTime=now)
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }
    )
