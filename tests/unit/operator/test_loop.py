"""The tuning loop's wiring: the study journal's Kubernetes retries reach the operator's
``kubetune_api_retries_total{api="kubernetes"}``."""

from __future__ import annotations

from typing import Any, cast

from kubetune.operator.clients import Clients
from kubetune.operator.loop import _study_store
from kubetune.operator.metrics import OperatorMetrics
from kubetune.runtime.kubernetes.journal import KubernetesJournalStorage

from tests.unit.runtime.kubernetes.fake_core import FakeCoreV1Api
from tests.unit.runtime.kubernetes.journal_helpers import tuningjob

UID = "0b7c6f3e-0000-4000-8000-000000000002"


def retries(metrics: OperatorMetrics, api: str) -> float:
    value = metrics.registry.get_sample_value("kubetune_api_retries_total", {"api": api})
    assert value is not None
    return value


def test_journal_retries_are_counted_as_kubernetes_api_retries() -> None:
    core = FakeCoreV1Api()
    clients = Clients(cast(Any, core), cast(Any, None), cast(Any, None))
    metrics = OperatorMetrics()
    on_retry = metrics.api_retries.labels("kubernetes").inc
    study = _study_store(clients, "wired", "ml", UID, on_retry).open(tuningjob("wired"))
    storage = study.study._storage
    assert isinstance(storage, KubernetesJournalStorage)
    storage.backend.store.sleep = lambda _: None  # no real backoff in a unit test

    core.fail("create", 503)
    study.ask(1)
    study.flush()
    assert retries(metrics, "kubernetes") == 1

    core.fail("patch", 409)  # a conflict on nothing of ours: read back and retried
    study.ask(1)
    study.flush()
    assert retries(metrics, "kubernetes") == 2
    assert retries(metrics, "prometheus") == 0
    assert core.count("create", "patch") == 4
