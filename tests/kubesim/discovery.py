"""Discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/{g}[/{v}]``.

Only the legacy (unaggregated) discovery shapes are served. kubectl asks for aggregated
discovery first but falls back when the answer's Content-Type is plain ``application/json``;
the official Python client and kopf only use the legacy shapes.
"""

from __future__ import annotations

from typing import Any

from .resources import Registry, ResourceType

KUBE_VERSION = {
    "major": "1",
    "minor": "35",
    "gitVersion": "v1.35.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "log": ["get"],
    "binding": ["create"],
    "eviction": ["create"],
    "finalize": ["update"],
    "scale": ["get", "patch", "update"],
}


def version() -> dict[str, Any]:
    return dict(KUBE_VERSION)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _resource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": rt.verbs,
    }
    if rt.short_names:
        main["shortNames"] = rt.short_names
    if rt.categories:
        main["categories"] = rt.categories
    entries = [main]
    subs = list(rt.extra_subresources)
    if rt.status_subresource:
        subs.insert(0, "status")
    if rt.scale_subresource:
        subs.append("scale")
    for sub in subs:
        kind = {"binding": "Binding", "scale": "Scale", "eviction": "Eviction"}.get(sub, rt.kind)
        group = {"scale": "autoscaling", "eviction": "policy"}.get(sub)
        entry: dict[str, Any] = {
            "name": f"{rt.plural}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": kind,
            "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
        }
        if group:
            entry.update(group=group, version="v1")
        entries.append(entry)
    return entries


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources = [
        e for rt in types if rt.plural != "bindings" or group == "" for e in _resource_entries(rt)
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(g, v) for g, v in registry.groups().items() if g and v]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}
