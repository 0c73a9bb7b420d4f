"""Deletion semantics: finalizers, garbage collection in all three modes, namespaces,
graceful pod deletion and deletecollection."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Raw


def _gone(read: object, *args: str) -> bool:
    try:
        read(*args)  # type: ignore[operator]
    except ApiException as exc:
        return exc.status == 404
    return False


def _owned(
    core: client.CoreV1Api,
    ns: str,
    owner: client.V1ConfigMap,
    name: str,
    block: bool = False,
    finalizers: list[str] | None = None,
) -> None:
    core.create_namespaced_config_map(
        ns,
        {
            "metadata": {
                "name": name,
                "finalizers": finalizers or [],
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": owner.metadata.name,
                        "uid": owner.metadata.uid,
                        "blockOwnerDeletion": block,
                    }
                ],
            }
        },
    )


def test_finalizers_hold_deletion_until_removed(core: client.CoreV1Api, raw: Raw, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "f", "finalizers": ["example.io/hold"]}}
    )
    status, body = raw("DELETE", f"/api/v1/namespaces/{ns}/configmaps/f")
    assert status == 200
    assert body["kind"] == "ConfigMap"
    assert body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["deletionGracePeriodSeconds"] == 0
    still = core.read_namespaced_config_map("f", ns)
    assert still.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as exc:  # no new finalizers while deleting
        core.patch_namespaced_config_map(
            "f", ns, {"metadata": {"finalizers": ["example.io/hold", "example.io/more"]}}
        )
    assert exc.value.status == 422
    core.patch_namespaced_config_map("f", ns, {"metadata": {"finalizers": None}})
    assert _gone(core.read_namespaced_config_map, "f", ns)


def test_background_gc_deletes_dependents(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    _owned(core, ns, owner, "dep1")
    _owned(core, ns, owner, "dep2")
    core.delete_namespaced_config_map("owner", ns)
    assert _gone(core.read_namespaced_config_map, "dep1", ns)
    assert _gone(core.read_namespaced_config_map, "dep2", ns)


def test_foreground_gc_waits_for_blocking_dependents(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    _owned(core, ns, owner, "blocker", block=True, finalizers=["example.io/slow"])
    _owned(core, ns, owner, "plain")
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    waiting = core.read_namespaced_config_map("owner", ns)
    assert "foregroundDeletion" in waiting.metadata.finalizers
    assert waiting.metadata.deletion_timestamp is not None
    assert _gone(core.read_namespaced_config_map, "plain", ns)
    blocker = core.read_namespaced_config_map("blocker", ns)
    assert blocker.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("blocker", ns, {"metadata": {"finalizers": None}})
    assert _gone(core.read_namespaced_config_map, "blocker", ns)
    assert _gone(core.read_namespaced_config_map, "owner", ns)


def test_orphan_propagation_keeps_dependents(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    _owned(core, ns, owner, "kept")
    core.delete_namespaced_config_map(
        "owner", ns, body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    kept = core.read_namespaced_config_map("kept", ns)
    assert not kept.metadata.owner_references


def _job_with_pod(batch: client.BatchV1Api, core: client.CoreV1Api, ns: str, name: str) -> None:
    job = batch.create_namespaced_job(
        ns,
        {
            "metadata": {"name": name},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            },
        },
    )
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {
                "name": f"{name}-pod",
                "labels": job.spec.template.metadata.labels,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": job.metadata.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
        },
    )


def test_jobs_orphan_pods_by_default_but_not_with_background(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    _job_with_pod(batch, core, ns, "legacy")
    batch.delete_namespaced_job("legacy", ns)  # raw API default for Jobs: orphan
    pod = core.read_namespaced_pod("legacy-pod", ns)
    assert not pod.metadata.owner_references

    _job_with_pod(batch, core, ns, "modern")
    batch.delete_namespaced_job("modern", ns, propagation_policy="Background")
    assert _gone(core.read_namespaced_pod, "modern-pod", ns)


def test_graceful_pod_deletion(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "g"},
            "spec": {
                "nodeName": "n1",
                "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "c", "image": "busybox"}],
            },
        },
    )
    core.delete_namespaced_pod("g", ns)
    terminating = core.read_namespaced_pod("g", ns)
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 30
    core.delete_namespaced_pod("g", ns, grace_period_seconds=0)  # what the kubelet does
    assert _gone(core.read_namespaced_pod, "g", ns)
    # A kubelet that only reports the stopped containers ends the deletion as well.
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "k"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    core.delete_namespaced_pod("k", ns)
    assert core.read_namespaced_pod("k", ns).metadata.deletion_timestamp is not None
    core.patch_namespaced_pod_status("k", ns, {"status": {"phase": "Failed"}})
    assert _gone(core.read_namespaced_pod, "k", ns)
    # Unscheduled pods go at once.
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "u"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    core.delete_namespaced_pod("u", ns)
    assert _gone(core.read_namespaced_pod, "u", ns)


def test_deletecollection_with_selector(core: client.CoreV1Api, ns: str) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": {"app": app}}})
    core.delete_collection_namespaced_config_map(ns, label_selector="app=x")
    left = [c.metadata.name for c in core.list_namespaced_config_map(ns).items]
    assert left == ["c"]


def test_namespace_deletion_removes_content(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "held", "finalizers": ["example.io/x"]}}
    )
    _job_with_pod(batch, core, ns, "j")
    core.delete_namespace(ns)
    terminating = core.read_namespace(ns)
    assert terminating.status.phase == "Terminating"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "late"}})
    assert exc.value.status == 403
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["held"]
    assert core.list_namespaced_pod(ns).items == []
    assert batch.list_namespaced_job(ns).items == []
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    assert _gone(core.read_namespace, ns)


def test_system_namespaces_cannot_be_deleted(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.delete_namespace("default")
    assert exc.value.status == 403
    assert core.read_namespace("default").status.phase == "Active"
