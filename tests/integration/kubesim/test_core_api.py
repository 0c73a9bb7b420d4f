"""Core API semantics through the official Python client: CRUD, errors, resourceVersions,
selectors, pagination, patch flavours, status subresource, generation, defaulting."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Raw


def _status(exc: ApiException) -> dict:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    return body


def test_create_fills_metadata_and_get_returns_it(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(
        ns, {"metadata": {"generateName": "cm-"}, "data": {"a": "1"}}
    )
    meta = created.metadata
    assert meta.name.startswith("cm-")
    assert len(meta.name) == len("cm-") + 5
    assert meta.uid
    assert meta.creation_timestamp is not None
    assert meta.namespace == ns
    assert meta.generation == 1
    assert int(meta.resource_version) > 0
    fetched = core.read_namespaced_config_map(meta.name, ns)
    assert fetched.data == {"a": "1"}
    assert fetched.metadata.uid == meta.uid


def test_create_answers_201(raw: Raw, ns: str) -> None:
    status, body = raw("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "x"}})
    assert status == 201
    assert body["kind"] == "ConfigMap"


def test_error_statuses(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "dup"}})
    assert exc.value.status == 409
    assert _status(exc.value)["reason"] == "AlreadyExists"

    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("missing", ns)
    assert exc.value.status == 404
    assert _status(exc.value)["reason"] == "NotFound"

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("no-such-namespace", {"metadata": {"name": "x"}})
    assert exc.value.status == 404
    assert 'namespaces "no-such-namespace" not found' in _status(exc.value)["message"]

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "Bad_Name"}})
    body = _status(exc.value)
    assert exc.value.status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_resource_version_is_global_and_stale_update_conflicts(
    core: client.CoreV1Api, ns: str
) -> None:
    a = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    b = core.create_namespaced_secret(ns, {"metadata": {"name": "b"}})
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version)
    a.data = {"k": "v"}
    updated = core.replace_namespaced_config_map("a", ns, a)
    assert int(updated.metadata.resource_version) > int(b.metadata.resource_version)
    a.data = {"k": "stale"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("a", ns, a)
    assert exc.value.status == 409
    assert _status(exc.value)["reason"] == "Conflict"
    # A no-op write does not create a new resourceVersion.
    again = core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    assert again.metadata.resource_version == updated.metadata.resource_version


def test_list_kind_selectors_and_pagination(core: client.CoreV1Api, ns: str, raw: Raw) -> None:
    for i, (tier, track) in enumerate(
        [("web", "stable"), ("web", "canary"), ("db", "stable"), ("cache", None)]
    ):
        labels = {"tier": tier} | ({"track": track} if track else {})
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"cm{i}", "labels": labels}})

    def names(selector: str) -> list[str]:
        return [
            c.metadata.name
            for c in core.list_namespaced_config_map(ns, label_selector=selector).items
        ]

    assert names("tier=web") == ["cm0", "cm1"]
    assert names("tier==web,track!=canary") == ["cm0"]
    assert names("tier in (db, cache)") == ["cm2", "cm3"]
    assert names("tier notin (web),track") == ["cm2"]
    assert names("!track") == ["cm3"]
    assert names("track,tier!=db") == ["cm0", "cm1"]

    by_field = core.list_namespaced_config_map(ns, field_selector="metadata.name=cm2").items
    assert [c.metadata.name for c in by_field] == ["cm2"]
    not_field = core.list_namespaced_config_map(ns, field_selector="metadata.name!=cm2").items
    assert len(not_field) == 3

    _, listed = raw("GET", f"/api/v1/namespaces/{ns}/configmaps")
    assert listed["kind"] == "ConfigMapList"
    assert listed["apiVersion"] == "v1"
    assert int(listed["metadata"]["resourceVersion"]) > 0

    page1 = core.list_namespaced_config_map(ns, limit=3)
    assert [c.metadata.name for c in page1.items] == ["cm0", "cm1", "cm2"]
    assert page1.metadata._continue
    page2 = core.list_namespaced_config_map(ns, limit=3, _continue=page1.metadata._continue)
    assert [c.metadata.name for c in page2.items] == ["cm3"]
    assert not page2.metadata._continue


def test_list_across_namespaces(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "everywhere", "labels": {"probe": ns}}}
    )
    found = core.list_config_map_for_all_namespaces(label_selector=f"probe={ns}").items
    assert [(c.metadata.namespace, c.metadata.name) for c in found] == [(ns, "everywhere")]


def test_merge_json_and_strategic_patches(core: client.CoreV1Api, ns: str) -> None:
    pod = {
        "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "busybox:1",
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80, "name": "http"}],
                },
                {"name": "side", "image": "busybox:1"},
            ]
        },
    }
    core.create_namespaced_pod(ns, pod)

    merged = core.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert merged.metadata.labels == {"b": "2", "c": "3"}

    # Strategic merge (the client's default for dicts): containers merge by name.
    patched = core.patch_namespaced_pod(
        "p", ns, {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}
    )
    images = {c.name: c.image for c in patched.spec.containers}
    assert images == {"main": "busybox:2", "side": "busybox:1"}
    assert patched.spec.containers[0].env[0].name == "A"

    # json-patch with a passing and a failing test op.
    ok = core.patch_namespaced_pod(
        "p",
        ns,
        [
            {"op": "test", "path": "/metadata/labels/b", "value": "2"},
            {"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}},
        ],
    )
    assert ok.metadata.annotations == {"x": "y"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod(
            "p",
            ns,
            [
                {"op": "test", "path": "/metadata/labels/b", "value": "nope"},
                {"op": "remove", "path": "/metadata/labels/b"},
            ],
        )
    assert exc.value.status == 422
    assert core.read_namespaced_pod("p", ns).metadata.labels["b"] == "2"


def test_strategic_merge_directives(raw: Raw, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "svc"},
            "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]},
        },
    )
    body = {"spec": {"ports": [{"port": 80, "$patch": "delete"}, {"name": "c", "port": 82}]}}
    status, result = raw(
        "PATCH",
        f"/api/v1/namespaces/{ns}/services/svc",
        body,
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 200
    assert [p["port"] for p in result["spec"]["ports"]] == [81, 82]


def test_strategic_merge_patch_merges_pod_volumes_by_name(
    raw: Raw, api_client: client.ApiClient, ns: str
) -> None:
    # A pod's volumes are immutable once created, so patch them where they do change: in a
    # pod template (kubectl set volume / rollout restart do this to Deployments).
    apps = client.AppsV1Api(api_client)
    labels = {"app": "vols"}
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "vols"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [{"name": "main", "image": "busybox"}],
                        "volumes": [
                            {"name": "data", "emptyDir": {}},
                            {"name": "cfg", "configMap": {"name": "cfg-v1"}},
                            {"name": "scratch", "emptyDir": {"medium": "Memory"}},
                        ],
                    },
                },
            },
        },
    )
    # The typed client sends a dict body as a strategic merge patch.
    patched = apps.patch_namespaced_deployment(
        "vols",
        ns,
        {
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [
                            {"name": "cfg", "configMap": {"name": "cfg-v2"}},
                            {"name": "secret", "secret": {"secretName": "s"}},
                        ]
                    }
                }
            }
        },
    )
    volumes = patched.spec.template.spec.volumes
    assert [v.name for v in volumes] == ["data", "cfg", "scratch", "secret"]
    by_name = {v.name: v for v in volumes}
    assert by_name["cfg"].config_map.name == "cfg-v2"
    assert by_name["data"].empty_dir is not None
    assert by_name["scratch"].empty_dir.medium == "Memory"
    assert by_name["secret"].secret.secret_name == "s"
    assert [c.name for c in patched.spec.template.spec.containers] == ["main"]

    path = f"/apis/apps/v1/namespaces/{ns}/deployments/vols"
    status, result = raw(
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"volumes": [{"name": "scratch", "$patch": "delete"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 200
    assert [v["name"] for v in result["spec"]["template"]["spec"]["volumes"]] == [
        "data",
        "cfg",
        "secret",
    ]
    # A JSON merge patch, by contrast, replaces the whole list.
    status, result = raw(
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"volumes": [{"name": "only", "emptyDir": {}}]}}}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    assert [v["name"] for v in result["spec"]["template"]["spec"]["volumes"]] == ["only"]


def test_server_side_apply_creates_then_merges(raw: Raw, ns: str) -> None:
    def apply(body: str) -> tuple[dict, int]:
        status, data = raw(
            "PATCH",
            f"/api/v1/namespaces/{ns}/configmaps/applied",
            body,
            content_type="application/apply-patch+yaml",
            query={"fieldManager": "test", "force": "true"},
        )
        return data, status

    yaml_doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    created, status = apply(yaml_doc)
    assert status == 201
    assert created["data"] == {"a": "1"}
    merged, status = apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "applied"},
                "data": {"b": "2"},
            }
        )
    )
    assert status == 200
    assert merged["data"] == {"a": "1", "b": "2"}


def test_status_subresource_and_generation(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    job = batch.create_namespaced_job(
        ns,
        {
            "metadata": {"name": "j"},
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                },
            },
            "status": {"active": 99},
        },
    )
    assert job.status.active is None  # status is ignored on create
    assert job.metadata.generation == 1

    # Main endpoint: status changes ignored, spec change bumps generation.
    updated = batch.patch_namespaced_job(
        "j", ns, {"spec": {"parallelism": 3}, "status": {"active": 5}}
    )
    assert updated.metadata.generation == 2
    assert updated.status.active is None

    # /status: only status changes, generation untouched.
    st = batch.patch_namespaced_job_status(
        "j", ns, {"status": {"active": 2}, "spec": {"parallelism": 7}}
    )
    assert st.status.active == 2
    assert st.spec.parallelism == 3
    assert st.metadata.generation == 2

    # Metadata-only changes do not bump generation.
    labelled = batch.patch_namespaced_job("j", ns, {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == 2

    # Namespaces also have a status subresource.
    ns_obj = core.patch_namespace(ns, {"status": {"phase": "Whatever"}})
    assert ns_obj.status.phase == "Active"


def test_job_and_pod_defaults(batch: client.BatchV1Api, core: client.CoreV1Api, ns: str) -> None:
    job = batch.create_namespaced_job(
        ns,
        {
            "metadata": {"name": "defaults"},
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
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {
        "batch.kubernetes.io/controller-uid": uid,
        "controller-uid": uid,
    }
    labels = job.spec.template.metadata.labels
    assert labels["controller-uid"] == uid
    assert labels["batch.kubernetes.io/controller-uid"] == uid
    assert labels["job-name"] == "defaults"
    assert labels["batch.kubernetes.io/job-name"] == "defaults"
    assert (job.spec.parallelism, job.spec.completions, job.spec.backoff_limit) == (1, 1, 6)
    assert job.spec.completion_mode == "NonIndexed"
    assert job.spec.suspend is False

    with pytest.raises(ApiException) as exc:
        batch.create_namespaced_job(
            ns,
            {
                "metadata": {"name": "bad"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
            },
        )
    assert exc.value.status == 422
    assert "restartPolicy" in json.loads(exc.value.body)["message"]

    pod = core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    assert pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.containers[0].termination_message_policy == "File"
    assert pod.spec.node_name is None


def test_pod_binding_sets_node_name(core: client.CoreV1Api, raw: Raw, ns: str) -> None:
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod("b", ns, {"spec": {"nodeName": "kubesim-node-1"}})
    assert exc.value.status == 422
    status, _ = raw(
        "POST",
        f"/api/v1/namespaces/{ns}/pods/b/binding",
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "b"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "kubesim-node-1"},
        },
    )
    assert status == 201
    pod = core.read_namespaced_pod("b", ns)
    assert pod.spec.node_name == "kubesim-node-1"
    scheduled = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    assert scheduled[0].status == "True"
    status, body = raw(
        "POST",
        f"/api/v1/namespaces/{ns}/pods/b/binding",
        {"metadata": {"name": "b"}, "target": {"name": "other"}},
    )
    assert status == 409
    assert body["reason"] == "Conflict"

    # The kubelet side: pods/status updates only change status.
    st = core.patch_namespaced_pod_status("b", ns, {"status": {"phase": "Running"}})
    assert st.status.phase == "Running"
    assert st.spec.node_name == "kubesim-node-1"


def test_seeded_cluster(core: client.CoreV1Api) -> None:
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system"} <= names
    nodes = core.list_node().items
    assert nodes
    assert all(n.status.allocatable for n in nodes)
    sa = core.read_namespaced_service_account("default", "default")
    assert sa.metadata.name == "default"


def test_node_kubelet_version_matches_server_version(
    api_client: client.ApiClient, core: client.CoreV1Api
) -> None:
    version = client.VersionApi(api_client).get_code()
    for node in core.list_node().items:
        info = node.status.node_info
        assert info.kubelet_version.startswith(f"v{version.major}.{version.minor}."), (
            node.metadata.name,
            info.kubelet_version,
            version.git_version,
        )
        assert info.kube_proxy_version == info.kubelet_version


def test_leases_and_events(api_client: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    leases = client.CoordinationV1Api(api_client)
    lease = leases.create_namespaced_lease(
        ns, {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me"}}
    )
    lease.spec.holder_identity = "you"
    assert leases.replace_namespaced_lease("leader", ns, lease).spec.holder_identity == "you"
    core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "ev1"},
            "involvedObject": {"kind": "Pod", "name": "p1", "namespace": ns},
            "reason": "Started",
            "message": "hello",
            "type": "Normal",
        },
    )
    events = core.list_namespaced_event(ns, field_selector="involvedObject.name=p1").items
    assert [e.reason for e in events] == ["Started"]
    assert core.list_namespaced_event(ns, field_selector="involvedObject.name=p2").items == []
    v1events = client.EventsV1Api(api_client)
    v1events.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "e2"},
            "reason": "R",
            "action": "A",
            "note": "n",
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "x",
            "reportingInstance": "y",
        },
    )
    assert len(v1events.list_namespaced_event(ns).items) == 1


def test_discovery_and_health(api_client: client.ApiClient, raw: Raw) -> None:
    version = client.VersionApi(api_client).get_code()
    assert version.major == "1"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"batch", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io"} <= groups
    core_resources = client.CoreV1Api(api_client).get_api_resources().resources
    by_name = {r.name: r for r in core_resources}
    assert by_name["pods"].namespaced
    assert "po" in by_name["pods"].short_names
    assert {"pods/status", "pods/log", "pods/binding"} <= set(by_name)
    assert not by_name["nodes"].namespaced
    batch_resources = {r.name for r in client.BatchV1Api(api_client).get_api_resources().resources}
    assert {"jobs", "jobs/status"} <= batch_resources
    for path in ("/healthz", "/readyz", "/livez"):
        assert raw("GET", path) == (200, "ok")


def test_metadata_and_size_validation(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    def invalid(call: object, *args: object) -> dict:
        with pytest.raises(ApiException) as exc:
            call(*args)  # type: ignore[operator]
        assert exc.value.status == 422
        return _status(exc.value)

    body = invalid(
        core.create_namespaced_config_map,
        ns,
        {"metadata": {"name": "l", "labels": {"a": "x" * 64}}},
    )
    assert body["details"]["causes"][0]["field"] == "metadata.labels"
    assert "must be no more than 63 characters" in body["message"]
    invalid(
        core.create_namespaced_config_map,
        ns,
        {"metadata": {"name": "l", "labels": {"bad key": "v"}}},
    )
    body = invalid(
        core.create_namespaced_config_map,
        ns,
        {"metadata": {"name": "big"}, "data": {"blob": "x" * (1024 * 1024 + 1)}},
    )
    assert body["details"]["causes"][0]["reason"] == "FieldValueTooLong"
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "fits"}, "data": {"blob": "x" * (1024 * 1024 - 10)}}
    )

    long_name = "j" * 64  # a valid object name, but the job-name label it gets is too long
    body = invalid(
        batch.create_namespaced_job,
        ns,
        {
            "metadata": {"name": long_name},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
                }
            },
        },
    )
    assert any(c["field"] == "spec.template.metadata.labels" for c in body["details"]["causes"])

    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    )
    invalid(core.patch_namespaced_config_map, "frozen", ns, {"data": {"a": "2"}})
