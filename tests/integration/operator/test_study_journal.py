"""The ConfigMap study journal over real HTTP against kubesim: restarts, chunking, the flush
contract, request counts, a 10,000-trial study, retries and garbage collection."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubetune.runtime.kubernetes.journal import (
    ANNOTATION_SEALED,
    ConcurrentWriterError,
    KubernetesJournalStorage,
    RetryPolicy,
    delete_study_journal,
    journal_selector,
    open_journal_storage,
)
from kubetune.search.study import TuningStudy

from tests.kubesim.harness import KubeSim, wait_until
from tests.unit.runtime.kubernetes.journal_helpers import (
    run_trials,
    trials_view,
    tuningjob,
    write_bulk_journal,
)

ONE_MIB = 1024 * 1024
GROUP, VERSION, PLURAL = "kubetune.io", "v1alpha1", "tuningjobs"

# Enough of the TuningJob CRD for owner references and garbage collection.
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "tuningjob", "kind": "TuningJob"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


@dataclass(frozen=True)
class Owner:
    name: str
    namespace: str
    uid: str


@pytest.fixture(scope="module")
def sim(kubesim_api: KubeSim) -> KubeSim:
    return kubesim_api


@pytest.fixture(scope="module")
def api_client(sim: KubeSim) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig))
    client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
    yield api
    api.close()


@pytest.fixture(scope="module")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def owner(core: client.CoreV1Api, api_client: client.ApiClient) -> Owner:
    """A TuningJob in a namespace of its own (its uid owns the study's ConfigMaps)."""
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": namespace}})
    created = client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TuningJob", "metadata": {"name": "tune"}},
    )
    return Owner("tune", namespace, created["metadata"]["uid"])


def storage(core: client.CoreV1Api, owner: Owner, **options: Any) -> KubernetesJournalStorage:
    return open_journal_storage(core, owner.name, owner.namespace, owner.uid, **options)


def chunks(core: client.CoreV1Api, owner: Owner) -> list[dict[str, Any]]:
    """The study's ConfigMaps as the API serves them (raw JSON, to measure their size)."""
    response = core.list_namespaced_config_map(
        owner.namespace, label_selector=journal_selector(owner.name), _preload_content=False
    )
    items: list[dict[str, Any]] = json.loads(response.data)["items"]
    return sorted(
        items, key=lambda item: int(item["metadata"]["labels"]["kubetune.io/study-chunk"])
    )


def test_a_study_is_rebuilt_identically_after_a_restart(
    core: client.CoreV1Api, owner: Owner
) -> None:
    job = tuningjob(owner.name)
    first = storage(core, owner)
    study = TuningStudy(job, first)
    run_trials(study, first, 50)
    before = trials_view(first, owner.name)
    assert len(before) == 50
    assert {t["state"].name for t in before} == {"COMPLETE", "FAIL", "PRUNED"}
    assert any(t["intermediate_values"] for t in before)

    restarted = storage(core, owner)  # a fresh process: nothing but what is in the cluster
    assert trials_view(restarted, owner.name) == before
    again = TuningStudy(job, restarted)
    assert again.records() == study.records()
    run_trials(again, restarted, 6)
    assert [r.number for r in again.records()] == list(range(56))


def test_chunks_roll_over_under_a_tiny_limit(core: client.CoreV1Api, owner: Owner) -> None:
    limit = 8 * 1024
    first = storage(core, owner, max_chunk_bytes=limit)
    run_trials(TuningStudy(tuningjob(owner.name), first), first, 40)
    items = chunks(core, owner)
    assert len(items) >= 4
    for item in items[:-1]:
        assert item["metadata"]["annotations"][ANNOTATION_SEALED] == "true"
    for item in items:
        assert len(json.dumps(item["data"])) <= limit
        assert item["metadata"]["ownerReferences"][0]["uid"] == owner.uid
    restarted = storage(core, owner, max_chunk_bytes=limit)
    assert trials_view(restarted, owner.name) == trials_view(first, owner.name)


def test_only_flushed_entries_survive_a_crash(core: client.CoreV1Api, owner: Owner) -> None:
    job = tuningjob(owner.name)
    first = storage(core, owner)
    study = TuningStudy(job, first)
    run_trials(study, first, 4)
    flushed = trials_view(first, owner.name)
    study.ask(3)  # suggested, read back by this process, but never flushed: "crash" now
    assert len(trials_view(first, owner.name)) == 7
    assert first.backend.pending > 0
    assert trials_view(storage(core, owner), owner.name) == flushed
    first.flush()
    assert len(trials_view(storage(core, owner), owner.name)) == 7


def test_api_requests_per_trial(sim: KubeSim, core: client.CoreV1Api, owner: Owner) -> None:
    first = storage(core, owner)
    study = TuningStudy(tuningjob(owner.name), first)
    first.flush()  # the study itself: one create
    since = sim.requests()[-1]["seq"]
    run_trials(study, first, 100, parallel=4)
    requests = sim.requests(since=since, resource="configmaps", namespace=owner.namespace)
    verbs = [r["verb"] for r in requests]
    # ask + flush, tell + flush: two merge patches per wave, whatever the wave's size
    assert verbs.count("patch") == 50
    assert set(verbs) == {"patch"}
    assert all(r["code"] == 200 for r in requests)
    print(f"configmap requests per trial (waves of 4): {len(requests) / 100:.2f}")


def test_ten_thousand_trials_fit_and_replay(core: client.CoreV1Api, owner: Owner) -> None:
    first = storage(core, owner)
    wrote = write_bulk_journal(first, owner.name, 10_000, flush_every=50)
    items = chunks(core, owner)
    sizes = [len(json.dumps(item)) for item in items]
    assert max(sizes) < ONE_MIB
    started = time.perf_counter()
    restarted = storage(core, owner)
    view = trials_view(restarted, owner.name)
    replayed = time.perf_counter() - started
    assert len(view) == 10_000
    assert view == trials_view(first, owner.name)
    print(
        f"10k trials via kubesim: {len(items)} chunks, largest {max(sizes)} B; "
        f"write {wrote:.1f}s, replay {replayed:.1f}s"
    )


def test_transient_errors_are_retried(sim: KubeSim, core: client.CoreV1Api, owner: Owner) -> None:
    first = storage(core, owner, retry=RetryPolicy(initial_delay=0.01))
    run_trials(TuningStudy(tuningjob(owner.name), first), first, 2)
    sim.faults(verb="patch", resource="configmaps", namespace=owner.namespace, status=503, count=2)
    sim.faults(
        verb="patch", resource="configmaps", namespace=owner.namespace, status=429, retry_after=1
    )
    sim.faults(verb="list", resource="configmaps", namespace=owner.namespace, status=500)
    try:
        started = time.perf_counter()
        run_trials(TuningStudy(tuningjob(owner.name), first), first, 2)
        assert time.perf_counter() - started >= 1.0  # Retry-After was honoured
        assert len(trials_view(storage(core, owner), owner.name)) == 4
    finally:
        sim.clear_faults()


def test_a_second_writer_gets_a_conflict(core: client.CoreV1Api, owner: Owner) -> None:
    first = storage(core, owner)
    study = TuningStudy(tuningjob(owner.name), first)
    run_trials(study, first, 2)
    second = storage(core, owner)  # e.g. a stale leader that kept running
    run_trials(study, first, 2)
    second_study = TuningStudy(tuningjob(owner.name), second)
    with pytest.raises(ConcurrentWriterError):
        run_trials(second_study, second, 2)
    assert len(trials_view(storage(core, owner), owner.name)) == 4


def test_deleting_the_tuningjob_collects_its_study(
    core: client.CoreV1Api, api_client: client.ApiClient, owner: Owner
) -> None:
    first = storage(core, owner, max_chunk_bytes=8 * 1024)
    run_trials(TuningStudy(tuningjob(owner.name), first), first, 20)
    assert len(chunks(core, owner)) > 1
    client.CustomObjectsApi(api_client).delete_namespaced_custom_object(
        GROUP, VERSION, owner.namespace, PLURAL, owner.name
    )
    wait_until(lambda: not chunks(core, owner), message="the study's ConfigMaps to be collected")


def test_delete_study_journal(core: client.CoreV1Api, owner: Owner) -> None:
    first = storage(core, owner, max_chunk_bytes=8 * 1024)
    run_trials(TuningStudy(tuningjob(owner.name), first), first, 20)
    core.create_namespaced_config_map(owner.namespace, {"metadata": {"name": "unrelated"}})
    delete_study_journal(core, owner.name, owner.namespace)
    assert chunks(core, owner) == []
    try:
        core.read_namespaced_config_map("unrelated", owner.namespace)
    except ApiException as error:  # pragma: no cover - a failure message, not a path
        pytest.fail(f"an unrelated ConfigMap was deleted: {error.status}")
    assert storage(core, owner).get_all_studies() == []
