"""Every kopf decorator of the operator: a routing table of thin handlers.

* Trial Jobs and pods are indexed (kopf keeps the cache) and wake their TuningJob on change.
* Each TuningJob has a daemon that runs its tuning loop (``loop.tuning_loop``).
* Deleting a TuningJob stops its trials; its Jobs and study ConfigMaps go with it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from kubetune.names import API_GROUP, FINALIZER, LABEL_TUNINGJOB, PLURAL, VERSION, tuningjob_label
from kubetune.operator.loop import tuning_loop
from kubetune.operator.trial_kinds import MergedIndex, configured_trial_kinds
from kubetune.runtime.kubernetes.journal import delete_study_journal
from kubetune.runtime.kubernetes.observe import (
    JobView,
    PodView,
    interruption,
    job_view,
    pod_view,
)

TRIAL_LABELS = {LABEL_TUNINGJOB: kopf.PRESENT}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # kopf's bookkeeping lives under our own group, so a strict CRD schema holds.
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 600
    settings.networking.error_backoffs = [1, 2, 5, 10, 30]


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # kopf's own loaders read $KUBECONFIG when called (the client library's read it at import).
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return kopf.login_with_service_account(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.index("batch", "v1", "jobs", labels=TRIAL_LABELS)
def trial_jobs(
    namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[Any, JobView]:
    view = job_view(body)
    return {} if view is None else {(namespace, labels[LABEL_TUNINGJOB]): view}


@kopf.index("", "v1", "pods", labels=TRIAL_LABELS)
def trial_pods(
    namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[Any, PodView]:
    view = pod_view(body)
    return {} if view is None else {(namespace, labels[LABEL_TUNINGJOB]): view}


@kopf.on.event("batch", "v1", "jobs", labels=TRIAL_LABELS)
def trial_changed(namespace: str | None, labels: kopf.Labels, memo: Any, **_: Any) -> None:
    memo.wakeups.wake((namespace, labels[LABEL_TUNINGJOB]))


def _index_trial_workloads(
    namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[Any, JobView]:
    view = job_view(body)
    return {} if view is None else {(namespace, labels[LABEL_TUNINGJOB]): view}


# Trials of other kinds (chart value trialKinds): indexed and watched like trial Jobs.
TRIAL_KINDS = configured_trial_kinds()
for _kind in TRIAL_KINDS:
    kopf.index(_kind.group, _kind.version, _kind.plural, labels=TRIAL_LABELS, id=_kind.index_id)(
        _index_trial_workloads
    )
    kopf.on.event(
        _kind.group, _kind.version, _kind.plural, labels=TRIAL_LABELS, id=f"{_kind.plural}_changed"
    )(trial_changed)


@kopf.on.event("", "v1", "pods", labels=TRIAL_LABELS)
def trial_pod_changed(
    namespace: str | None, labels: kopf.Labels, body: kopf.Body, memo: Any, **_: Any
) -> None:
    key = (namespace, labels[LABEL_TUNINGJOB])
    view = pod_view(body)
    what = interruption(view) if view is not None else None
    if view is not None and what is not None:
        memo.interruptions.note(key, view.trial, view.uid, what)
    memo.wakeups.wake(key)


@kopf.on.update(API_GROUP, VERSION, PLURAL, field="spec")
def spec_changed(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    memo.wakeups.wake((namespace, tuningjob_label(name)))


@kopf.daemon(API_GROUP, VERSION, PLURAL, cancellation_timeout=30.0)
async def tune(
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    memo: Any,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **indexes: Any,
) -> None:
    # kopf injects each index by the name of its function.
    jobs: Any = MergedIndex(
        [indexes["trial_jobs"], *(indexes[kind.index_id] for kind in TRIAL_KINDS)]
    )
    pods: kopf.Index[Any, PodView] = indexes["trial_pods"]
    await tuning_loop(memo, body, stopped, jobs, pods, logger)


@kopf.on.delete(API_GROUP, VERSION, PLURAL)
def delete_trials(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    assert namespace is not None  # TuningJobs are namespaced
    memo.clients.batch.delete_collection_namespaced_job(
        namespace,
        label_selector=f"{LABEL_TUNINGJOB}={tuningjob_label(name)}",
        propagation_policy="Background",
    )
    for kind in TRIAL_KINDS:
        memo.clients.custom.delete_collection_namespaced_custom_object(
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            label_selector=f"{LABEL_TUNINGJOB}={tuningjob_label(name)}",
            propagation_policy="Background",
        )
    delete_study_journal(memo.clients.core, name, namespace)
    memo.wakeups.forget((namespace, tuningjob_label(name)))
    memo.interruptions.forget((namespace, tuningjob_label(name)))
    memo.metrics.forget(namespace, name)
