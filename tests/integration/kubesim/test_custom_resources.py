"""CRDs: registration and discovery, schema validation with Kubernetes messages, defaulting,
pruning, status subresource, printer columns, and removal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import CRD_GROUP, Raw, widget_crd

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def _widget(obj_name: str, /, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{CRD_GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": obj_name},
        "spec": spec,
    }


def _create(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    return custom.create_namespaced_custom_object(CRD_GROUP, "v1", ns, "widgets", body)


def _invalid(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as exc:
        _create(custom, ns, body)
    assert exc.value.status == 422
    status = json.loads(exc.value.body)
    assert status["kind"] == "Status"
    assert status["reason"] == "Invalid"
    return status


def test_crd_is_established_and_discoverable(
    apiext: client.ApiextensionsV1Api, api_client: client.ApiClient, widgets: str, raw: Raw
) -> None:
    crd = apiext.read_custom_resource_definition(f"widgets.{CRD_GROUP}")
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == "Widget"
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    assert groups[CRD_GROUP].preferred_version.version == "v1"
    _, group = raw("GET", f"/apis/{CRD_GROUP}")
    assert group["kind"] == "APIGroup"
    _, resources = raw("GET", f"/apis/{CRD_GROUP}/v1")
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["widgets"]["kind"] == "Widget"
    assert by_name["widgets"]["namespaced"] is True
    assert by_name["widgets"]["shortNames"] == ["wix"]
    assert by_name["widgets"]["categories"] == ["kubesim"]
    assert by_name["widgets/status"]["verbs"] == ["get", "patch", "update"]


def test_defaults_and_pruning(custom: client.CustomObjectsApi, widgets: str, ns: str) -> None:
    obj = _create(custom, ns, _widget("d", size=3, unknown="dropped", extra={"free": {"form": 1}}))
    assert obj["spec"]["color"] == "red"
    assert obj["spec"]["limits"] == {"maxTrials": 5}
    assert "unknown" not in obj["spec"]
    assert obj["spec"]["extra"] == {"free": {"form": 1}}  # preserve-unknown-fields
    assert obj["metadata"]["generation"] == 1


def test_validation_messages(custom: client.CustomObjectsApi, widgets: str, ns: str) -> None:
    status = _invalid(custom, ns, _widget("v", size=3, limits={"maxTrials": 0}))
    assert status["message"] == (
        f'Widget.{CRD_GROUP} "v" is invalid: spec.limits.maxTrials: Invalid value: 0: '
        "spec.limits.maxTrials in body should be greater than or equal to 1"
    )
    cause = status["details"]["causes"][0]
    assert cause["field"] == "spec.limits.maxTrials"
    assert cause["reason"] == "FieldValueInvalid"

    status = _invalid(
        custom,
        ns,
        {"apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget", "metadata": {"name": "v"}, "spec": {}},
    )
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "field": "spec.size", "message": "Required value"}
    ]

    status = _invalid(
        custom,
        ns,
        _widget("v", size="big", color="green", name="A", tags=["a", "b", "c"], ratio=0, port=True),
    )
    fields = {c["field"]: c for c in status["details"]["causes"]}
    assert "must be of type integer" in fields["spec.size"]["message"]
    assert fields["spec.color"]["reason"] == "FieldValueNotSupported"
    assert 'supported values: "red", "blue"' in fields["spec.color"]["message"]
    assert any(
        "should be at least 2 chars long" in c["message"]
        for c in status["details"]["causes"]
        if c["field"] == "spec.name"
    )
    assert any(
        "should match '^[a-z]+$'" in c["message"]
        for c in status["details"]["causes"]
        if c["field"] == "spec.name"
    )
    assert fields["spec.tags"]["reason"] == "FieldValueTooMany"
    assert "should be greater than 0" in fields["spec.ratio"]["message"]
    assert "integer,string" in fields["spec.port"]["message"]
    assert status["message"].startswith(f'Widget.{CRD_GROUP} "v" is invalid: [')

    ok = _create(custom, ns, _widget("ios", size=10, port="http", ratio=0.5))
    assert ok["spec"]["port"] == "http"


def test_updates_are_validated_too(custom: client.CustomObjectsApi, widgets: str, ns: str) -> None:
    _create(custom, ns, _widget("u", size=2))
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object(
            CRD_GROUP, "v1", ns, "widgets", "u", {"spec": {"size": 11}}
        )
    assert exc.value.status == 422
    assert "should be less than or equal to 10" in json.loads(exc.value.body)["message"]


def test_status_subresource_and_generation(
    custom: client.CustomObjectsApi, widgets: str, ns: str
) -> None:
    body = _widget("s", size=1)
    body["status"] = {"phase": "ignored"}
    created = _create(custom, ns, body)
    assert "status" not in created
    st = custom.patch_namespaced_custom_object_status(
        CRD_GROUP, "v1", ns, "widgets", "s", {"status": {"phase": "Ready"}, "spec": {"size": 9}}
    )
    assert st["status"] == {"phase": "Ready"}
    assert st["spec"]["size"] == 1
    assert st["metadata"]["generation"] == 1
    main = custom.patch_namespaced_custom_object(
        CRD_GROUP, "v1", ns, "widgets", "s", {"spec": {"size": 2}, "status": {"phase": "nope"}}
    )
    assert main["status"] == {"phase": "Ready"}
    assert main["metadata"]["generation"] == 2


def test_strategic_merge_is_rejected_for_custom_resources(
    raw: Raw, custom: client.CustomObjectsApi, widgets: str, ns: str
) -> None:
    _create(custom, ns, _widget("smp", size=1))
    status, body = raw(
        "PATCH",
        f"/apis/{CRD_GROUP}/v1/namespaces/{ns}/widgets/smp",
        {"spec": {"size": 2}},
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 415
    assert body["reason"] == "UnsupportedMediaType"


def test_strict_field_validation(raw: Raw, widgets: str, ns: str) -> None:
    status, body = raw(
        "POST",
        f"/apis/{CRD_GROUP}/v1/namespaces/{ns}/widgets",
        _widget("strict", size=1, bogus=1),
        query={"fieldValidation": "Strict"},
    )
    assert status == 400
    assert 'unknown field "spec.bogus"' in body["message"]


def test_without_status_subresource_status_is_data(
    apiext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    apiext.create_custom_resource_definition(
        widget_crd(scope="Cluster", status_subresource=False, plural="gadgets", kind="Gadget")
    )
    body = {
        "apiVersion": f"{CRD_GROUP}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": {"size": 1},
        "status": {"phase": "kept"},
    }
    created = custom.create_cluster_custom_object(CRD_GROUP, "v1", "gadgets", body)
    assert created["status"] == {"phase": "kept"}
    assert "namespace" not in created["metadata"]
    changed = custom.patch_cluster_custom_object(
        CRD_GROUP, "v1", "gadgets", "g", {"status": {"phase": "new"}}
    )
    assert changed["status"] == {"phase": "new"}
    assert changed["metadata"]["generation"] == 2
    apiext.delete_custom_resource_definition(f"gadgets.{CRD_GROUP}")
    with pytest.raises(ApiException) as exc:
        custom.list_cluster_custom_object(CRD_GROUP, "v1", "gadgets")
    assert exc.value.status == 404


def test_malformed_crds_are_rejected(apiext: client.ApiextensionsV1Api, raw: Raw) -> None:
    bad = widget_crd(plural="things", kind="Thing")
    bad["metadata"]["name"] = "wrong.name.io"
    bad["spec"]["scope"] = "Galaxy"
    bad["spec"]["versions"][0]["storage"] = False
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "size"
    ]["type"] = "int"
    status, body = raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
    assert status == 422
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.scope", "spec.versions"} <= fields
    assert any("properties[size].type" in f for f in fields)


def test_printer_columns_in_table(
    custom: client.CustomObjectsApi, raw: Raw, widgets: str, ns: str
) -> None:
    _create(custom, ns, _widget("t", size=4))
    custom.patch_namespaced_custom_object_status(
        CRD_GROUP,
        "v1",
        ns,
        "widgets",
        "t",
        {
            "status": {
                "conditions": [
                    {"type": "Other", "status": "False"},
                    {"type": "Ready", "status": "True"},
                ],
                "trials": {"succeeded": 7},
            }
        },
    )
    status, table = raw("GET", f"/apis/{CRD_GROUP}/v1/namespaces/{ns}/widgets", accept=TABLE)
    assert status == 200
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Size",
        "Ready",
        "Done",
        "Age",
    ]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["t", 4, "True", 7]
    assert cells[4].endswith("s")


def test_list_and_watch_custom_resources_with_selectors(
    custom: client.CustomObjectsApi, widgets: str, ns: str
) -> None:
    for name, tier in (("a", "x"), ("b", "y")):
        body = _widget(name, size=1)
        body["metadata"]["labels"] = {"tier": tier}
        _create(custom, ns, body)
    listed = custom.list_namespaced_custom_object(
        CRD_GROUP, "v1", ns, "widgets", label_selector="tier=y"
    )
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["b"]


PRODUCT_CRD = Path(__file__).resolve().parents[3] / "crds" / "tuningjobs.kubetune.io.yaml"


@pytest.mark.skipif(not PRODUCT_CRD.exists(), reason="product CRD not generated yet")
def test_product_tuningjob_crd(
    apiext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi, raw: Raw, ns: str
) -> None:
    """Our own TuningJob CRD registers, validates with apiserver wording and prints columns."""
    crd = yaml.safe_load(PRODUCT_CRD.read_text())
    apiext.create_custom_resource_definition(crd)
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    base = {
        "apiVersion": f"kubetune.io/{version}",
        "kind": "TuningJob",
        "metadata": {"name": "x"},
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize"},
            "parameters": [{"name": "lr", "type": "float", "min": 0.1, "max": 1}],
            "strategy": {"algorithm": "random"},
            "limits": {"maxTrials": 0},
            "trialTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "t", "image": "i"}]}}}
            },
        },
    }
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object("kubetune.io", version, ns, "tuningjobs", base)
    assert exc.value.status == 422
    assert json.loads(exc.value.body)["message"] == (
        'TuningJob.kubetune.io "x" is invalid: spec.limits.maxTrials: Invalid value: 0: '
        "spec.limits.maxTrials in body should be greater than or equal to 1"
    )
    base["spec"]["limits"]["maxTrials"] = 3
    custom.create_namespaced_custom_object("kubetune.io", version, ns, "tuningjobs", base)
    custom.patch_namespaced_custom_object_status(
        "kubetune.io",
        version,
        ns,
        "tuningjobs",
        "x",
        {
            "status": {
                "conditions": [
                    {"type": "Running", "status": "False"},
                    {"type": "Complete", "status": "True"},
                ],
                "trials": {"succeeded": 3, "total": 3},
            }
        },
    )
    _, table = raw("GET", f"/apis/kubetune.io/{version}/namespaces/{ns}/tuningjobs", accept=TABLE)
    columns = [c["name"] for c in table["columnDefinitions"]]
    cells = dict(zip(columns, table["rows"][0]["cells"], strict=True))
    assert cells["Name"] == "x"
    assert cells.get("Status") == "Complete"
    assert cells.get("Succeeded") == 3
