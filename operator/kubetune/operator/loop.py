"""The body of a TuningJob's daemon: step the session whenever something changed."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetune.api.spec import TuningJob
from kubetune.names import API_GROUP, PLURAL, VERSION, tuningjob_label
from kubetune.operator.clients import Clients
from kubetune.operator.context import OperatorContext
from kubetune.operator.failures import (
    MAX_READ_RETRY_SECONDS,
    TRANSIENT_ERRORS,
    describe,
    failure_condition,
    retry_delay,
)
from kubetune.runtime.kubernetes.backend import ClusterView, KubernetesBackend
from kubetune.runtime.kubernetes.journal import StudyJournalError, open_journal_storage
from kubetune.runtime.kubernetes.observe import JobView, PodView
from kubetune.runtime.kubernetes.parents import cluster_parents
from kubetune.runtime.kubernetes.session import ClusterSession, StepOutcome
from kubetune.search.study import StudyStore

log = logging.getLogger(__name__)


def cluster_view(
    jobs: Iterable[JobView],
    pods: Iterable[PodView],
    interruptions: Mapping[int, Mapping[str, str]] | None = None,
) -> ClusterView:
    pods_by_trial: dict[int, list[PodView]] = {}
    for pod in pods:
        pods_by_trial.setdefault(pod.trial, []).append(pod)
    return ClusterView({job.trial: job for job in jobs}, pods_by_trial, dict(interruptions or {}))


async def tuning_loop(
    context: OperatorContext,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    jobs_index: kopf.Index[Any, JobView],
    pods_index: kopf.Index[Any, PodView],
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    name, namespace, uid = body.metadata.name, body.metadata.namespace, body.metadata.uid
    assert name is not None
    assert namespace is not None
    assert uid is not None
    key = (namespace, tuningjob_label(name))
    clients = context.clients
    metrics = context.metrics
    loop = asyncio.get_running_loop()

    def wake_from_thread() -> None:  # a followed log reported a value: reconcile soon
        with contextlib.suppress(RuntimeError):  # the event loop is closing
            loop.call_soon_threadsafe(context.wakeups.wake, key)

    def backend_factory(job: TuningJob) -> KubernetesBackend:
        backend = KubernetesBackend(
            job, namespace, uid, clients.batch, clients.core, clients.custom
        )
        backend.on_metrics = wake_from_thread
        backend.on_retry = metrics.api_retries.labels("prometheus").inc
        return backend

    def new_session() -> ClusterSession:
        """A session rebuilt from the cluster: the study is read back from its journal."""
        return ClusterSession(
            name,
            namespace,
            uid,
            study_store=lambda job_name, ns, owner_uid: _study_store(
                clients, job_name, ns, owner_uid, metrics.api_retries.labels("kubernetes").inc
            ),
            backend_factory=backend_factory,
            retention=context.retention,
        )

    sessions = _Sessions(new_session)
    try:
        await _run(context, sessions, body, stopped, jobs_index, pods_index, logger)
    finally:
        sessions.close()


class _Sessions:
    """The TuningJob's current session, and a fresh one when its view may be stale."""

    def __init__(self, factory: Callable[[], ClusterSession]) -> None:
        self._factory = factory
        self.current = factory()

    def rebuild(self) -> ClusterSession:
        self.close()
        self.current = self._factory()
        return self.current

    def close(self) -> None:
        if self.current.backend is not None:
            self.current.backend.close()


async def _run(
    context: OperatorContext,
    sessions: _Sessions,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    jobs_index: kopf.Index[Any, JobView],
    pods_index: kopf.Index[Any, PodView],
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    session = sessions.current
    name, namespace = session.name, session.namespace
    key = (namespace, tuningjob_label(name))
    metrics = context.metrics
    written: Mapping[str, Any] | None = None
    failures = soft_failures = 0
    while not stopped:
        view = cluster_view(
            jobs_index.get(key, []), pods_index.get(key, []), context.interruptions.of(key)
        )
        snapshot = copy.deepcopy(dict(body))
        began = time.perf_counter()
        try:
            outcome = await asyncio.to_thread(session.step, snapshot, view)
            if outcome.status != written:
                await asyncio.to_thread(_patch_status, context, namespace, name, outcome)
                written = outcome.status
        except Exception as error:  # one TuningJob's failure stays its own
            metrics.record_error(namespace, error)
            failures += 1
            delay = retry_delay(error, failures)
            if isinstance(error, TRANSIENT_ERRORS):
                logger.warning("reconcile failed (%s); retrying in %.1fs", describe(error), delay)
            else:
                # A stale study view (another writer, a journal that kept failing) or a bug:
                # whatever this session holds in memory may be wrong, so read it all back.
                logger.error(
                    "reconcile failed (%s); rebuilding from the journal in %.1fs",
                    describe(error),
                    delay,
                    exc_info=not isinstance(error, StudyJournalError),
                )
                session = sessions.rebuild()
                written = None  # the status below is not what the session would write
                await asyncio.to_thread(
                    _report_failure, context, namespace, name, body, error, delay
                )
            await context.wakeups.sleep(key, delay)
            continue
        failures = 0
        wake_in = outcome.wake_in
        if session.backend is not None and session.backend.retry_soon:
            soft_failures += 1  # a read failed but the step went on: retry that read soon
            wake_in = min(wake_in, retry_delay(None, soft_failures, cap=MAX_READ_RETRY_SECONDS))
        else:
            soft_failures = 0
        metrics.record_step(
            namespace,
            name,
            outcome.status,
            time.perf_counter() - began,
            outcome.suggestion_seconds,
            outcome.trial_durations,
            outcome.metrics_source_available,
        )
        for event in outcome.events:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        await context.wakeups.sleep(key, wake_in)


def _study_store(
    clients: Clients,
    name: str,
    namespace: str,
    uid: str,
    on_retry: Callable[[], None] | None = None,
) -> StudyStore:
    """The TuningJob's study journal, rebuilt from its ConfigMaps; ``on_retry`` is called for
    each journal request retried (counted as Kubernetes API retries)."""
    storage = open_journal_storage(clients.core, name, namespace, uid, on_retry=on_retry)
    parents = cluster_parents(clients.core, clients.custom, namespace)
    return StudyStore(storage, flush=storage.flush, parents=parents)


def _patch_status(
    context: OperatorContext, namespace: str, name: str, outcome: StepOutcome
) -> None:
    context.clients.custom.patch_namespaced_custom_object_status(
        API_GROUP, VERSION, namespace, PLURAL, name, {"status": outcome.status}
    )


def _report_failure(
    context: OperatorContext,
    namespace: str,
    name: str,
    body: kopf.Body,
    error: BaseException,
    delay: float,
) -> None:
    """Put the failure on the TuningJob as a condition (best effort: the API may be the
    problem); the next successful step writes its whole status and so removes it."""
    previous = (body.get("status") or {}).get("conditions") or []
    generation = body.get("metadata", {}).get("generation")
    item = failure_condition(error, delay, time.time(), generation)
    conditions = [c for c in previous if c.get("type") != item["type"]] + [item]
    try:
        context.clients.custom.patch_namespaced_custom_object_status(
            API_GROUP, VERSION, namespace, PLURAL, name, {"status": {"conditions": conditions}}
        )
    except (ApiException, HTTPError, OSError) as patch_error:
        log.warning("could not report the failure on %s/%s: %s", namespace, name, patch_error)
