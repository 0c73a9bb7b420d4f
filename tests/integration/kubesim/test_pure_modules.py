"""The emulator's pure building blocks, tested directly (no server): selector parsing,
printer-column JSONPath, patch algebra, schema pruning/defaulting, request classification and
the protobuf decoder's wire handling."""

from __future__ import annotations

import pytest

from tests.kubesim import jsonpath, patching, request_info, schema_validation, selectors
from tests.kubesim.errors import ApiError
from tests.kubesim.tables import human_duration


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=1", {"a": "1"}, True),
        ("a==1,b!=2", {"a": "1"}, True),
        ("a in (1, 2),!c", {"a": "2"}, True),
        ("a notin (1,2)", {}, True),
        ("a notin (1,2)", {"a": "1"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("x.io/role=web", {"x.io/role": "web"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    match = selectors.label_selector(selector)
    assert match is not None
    assert match({"metadata": {"labels": labels}}) is expected


def test_selector_syntax_error_is_400() -> None:
    with pytest.raises(ApiError) as exc:
        selectors.label_selector("a in (1")
    assert exc.value.code == 400


def test_jsonpath_filters_and_escapes() -> None:
    obj = {
        "status": {
            "conditions": [
                {"type": "A", "status": "True", "n": 1},
                {"type": "B", "status": "True", "n": 5},
            ]
        },
        "metadata": {"labels": {"app.kubernetes.io/name": "x"}},
    }
    assert jsonpath.evaluate(obj, '.status.conditions[?(@.status=="True")].type') == ["A", "B"]
    assert jsonpath.evaluate(obj, ".status.conditions[?(@.n>2)].type") == ["B"]
    assert jsonpath.evaluate(obj, ".status.conditions[-1].n") == [5]
    assert jsonpath.evaluate(obj, r".metadata.labels.app\.kubernetes\.io/name") == ["x"]
    assert jsonpath.evaluate(obj, ".status.missing.deep") == []


def test_human_duration_matches_kubectl() -> None:
    assert [human_duration(s) for s in (5, 119, 150, 3600, 5 * 3600 + 60, 3 * 86400)] == [
        "5s",
        "119s",
        "2m30s",
        "60m",
        "5h1m",
        "3d",
    ]


def test_merge_and_strategic_patches() -> None:
    assert patching.json_merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None}, "l": [2]}) == {
        "a": {"c": 2},
        "l": [2],
    }
    original = {
        "metadata": {"finalizers": ["a"]},
        "spec": {
            "containers": [{"name": "x", "image": "1", "env": [{"name": "A", "value": "1"}]}],
            "tolerations": [{"key": "t"}],
        },
    }
    patch = {
        "metadata": {"finalizers": ["b"]},
        "spec": {
            "$setElementOrder/containers": [{"name": "x"}],
            "containers": [{"name": "x", "env": [{"name": "B", "value": "2"}]}],
            "tolerations": [{"key": "u"}],
        },
    }
    merged = patching.strategic_merge(original, patch)
    assert merged["metadata"]["finalizers"] == ["a", "b"]
    assert [e["name"] for e in merged["spec"]["containers"][0]["env"]] == ["A", "B"]
    assert merged["spec"]["tolerations"] == [{"key": "u"}]  # no merge key: replaced
    assert "$setElementOrder/containers" not in merged["spec"]
    retained = patching.strategic_merge({"a": 1, "b": 2}, {"$retainKeys": ["b"], "b": 3})
    assert retained == {"b": 3}


def test_strategic_merge_merges_pod_volumes_by_name() -> None:
    pod = {
        "spec": {
            "containers": [{"name": "main", "image": "busybox"}],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "cfg-v1", "defaultMode": 420}},
                {"name": "scratch", "emptyDir": {"medium": "Memory"}},
            ],
        }
    }
    patch = {
        "spec": {
            "volumes": [
                {"name": "cfg", "configMap": {"name": "cfg-v2"}},
                {"name": "scratch", "$patch": "delete"},
                {"name": "token", "secret": {"secretName": "s"}},
            ]
        }
    }
    merged = patching.strategic_merge(pod, patch)
    assert merged["spec"]["volumes"] == [
        {"name": "data", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "cfg-v2", "defaultMode": 420}},
        {"name": "token", "secret": {"secretName": "s"}},
    ]
    assert merged["spec"]["containers"] == pod["spec"]["containers"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["data", "cfg", "scratch"]  # untouched


def test_json_patch_errors_are_422() -> None:
    doc = {"a": [1, 2]}
    assert patching.json_patch(
        doc,
        [{"op": "add", "path": "/a/-", "value": 3}, {"op": "move", "from": "/a/0", "path": "/b"}],
    ) == {"a": [2, 3], "b": 1}
    for ops in ([{"op": "remove", "path": "/nope"}], [{"op": "test", "path": "/a/0", "value": 9}]):
        with pytest.raises(ApiError) as exc:
            patching.json_patch(doc, ops)
        assert exc.value.code == 422


def test_schema_prune_default_validate() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "default": 3, "maximum": 5, "exclusiveMaximum": True},
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                    "when": {"type": "string", "format": "date-time"},
                },
            }
        },
    }
    dropped: list[str] = []
    obj = schema_validation.prune_and_default(
        {"metadata": {"name": "x"}, "spec": {"junk": 1, "items": [{"name": "a", "x": 1}]}},
        schema,
        root=True,
        dropped=dropped,
    )
    assert obj == {"metadata": {"name": "x"}, "spec": {"items": [{"name": "a"}], "n": 3}}
    assert dropped == ["spec.junk", "spec.items[0].x"]
    causes = schema_validation.validate(
        {"spec": {"n": 5, "when": "yesterday", "items": [{"name": "a"}, {"name": "a"}]}}, schema
    )
    messages = sorted(c["message"] for c in causes)
    assert messages == [
        'spec.items[1]: Duplicate value: map[string]interface {}{"name":"a"}',
        "spec.n: Invalid value: 5: spec.n in body should be less than 5",
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
        '"yesterday"',
    ]


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/pods", {"watch": "1"}, ("watch", "", "pods", "", "", "")),
        ("GET", "/api/v1/namespaces/ns1", {}, ("get", "", "namespaces", "", "", "ns1")),
        (
            "PUT",
            "/api/v1/namespaces/ns1/finalize",
            {},
            ("update", "", "namespaces", "finalize", "", "ns1"),
        ),
        (
            "DELETE",
            "/apis/batch/v1/namespaces/d/jobs",
            {},
            ("deletecollection", "batch", "jobs", "", "d", ""),
        ),
        (
            "PATCH",
            "/apis/kubetune.io/v1alpha1/namespaces/d/tuningjobs/t/status",
            {},
            ("patch", "kubetune.io", "tuningjobs", "status", "d", "t"),
        ),
        (
            "POST",
            "/api/v1/namespaces/d/pods/p/binding",
            {},
            ("create", "", "pods", "binding", "d", "p"),
        ),
    ],
)
def test_request_classification(
    method: str, path: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    info = request_info.parse(method, path, query)
    assert (
        info.verb,
        info.group,
        info.resource,
        info.subresource,
        info.namespace,
        info.name,
    ) == expected
