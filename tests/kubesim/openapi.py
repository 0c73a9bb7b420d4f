"""OpenAPI v3 documents, built from CRD schemas, for ``kubectl explain`` and ``kubectl apply``.

Custom resources get real schemas (their ``openAPIV3Schema`` plus the standard
apiVersion/kind/metadata fields), which is what ``kubectl explain tuningjob.spec.limits``
needs. Built-in kinds get no schema: with a partial one kubectl would build strategic-merge
patches from it, while without one it falls back to its compiled-in types.

Every resource gets a PATCH path that advertises the ``fieldValidation`` query parameter:
that is how kubectl decides to leave validation to the server (``--validate=strict`` then works
without client-side schemas). The PATCH request body deliberately lists no strategic-merge
content type, so kubectl never tries to compute strategic patches from these documents.
``/openapi/v2`` is answered with 404, which kubectl treats as "no schema available".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Registry, ResourceType

_OBJECT_META = {
    "description": "Standard object's metadata. More info: https://git.k8s.io/community/"
    "contributors/devel/sig-architecture/api-conventions.md#metadata",
    "type": "object",
}


def _schema_name(rt: ResourceType) -> str:
    reversed_group = ".".join(reversed(rt.group.split(".")))
    return f"{reversed_group}.{rt.version}.{rt.kind}"


def _path(rt: ResourceType) -> str:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{base}{scope}/{rt.plural}/{{name}}"


def _patch_operation(rt: ResourceType) -> dict[str, Any]:
    content_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    return {
        "patch": {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {
                "group": rt.group,
                "version": rt.version,
                "kind": rt.kind,
            },
            "requestBody": {"content": {c: {"schema": {"type": "object"}} for c in content_types}},
            "parameters": [
                {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                for name in ("dryRun", "fieldManager", "fieldValidation", "force")
            ],
            "responses": {"200": {"description": "OK"}},
        }
    }


def _document(rt_list: list[ResourceType]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for rt in rt_list:
        if rt.plural == "bindings":
            continue
        paths[_path(rt)] = _patch_operation(rt)
        if rt.schema is None:
            continue
        schema = json.loads(json.dumps(rt.schema))
        props = schema.setdefault("properties", {})
        props.setdefault(
            "apiVersion",
            {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation of "
                "an object.",
            },
        )
        props.setdefault(
            "kind",
            {
                "type": "string",
                "description": "Kind is a string value representing the REST resource this object "
                "represents.",
            },
        )
        declared = {k: v for k, v in (props.get("metadata") or {}).items() if k != "type"}
        props["metadata"] = dict(_OBJECT_META, **declared)
        schema["x-kubernetes-group-version-kind"] = [
            {"group": rt.group, "kind": rt.kind, "version": rt.version}
        ]
        schemas[_schema_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _group_versions(registry: Registry) -> dict[str, list[ResourceType]]:
    result: dict[str, list[ResourceType]] = {}
    for rt in registry.all():
        key = f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"
        result.setdefault(key, []).append(rt)
    return result


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def index(registry: Registry) -> dict[str, Any]:
    paths = {}
    for key, types in _group_versions(registry).items():
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(_document(types))}"}
    return {"paths": paths}


def document(registry: Registry, key: str) -> dict[str, Any] | None:
    types = _group_versions(registry).get(key)
    if not types:
        return None
    return _document(types)
