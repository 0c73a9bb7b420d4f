"""CustomResourceDefinitions turned into served resource types.

Registration is synchronous with the CRD write (a real cluster takes a moment): the CRD comes
back with ``Established`` and ``NamesAccepted`` conditions already true, so a client may create
custom resources right after creating the CRD without polling.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import invalid
from .objects import deep_copy, now_rfc3339
from .resources import ResourceType

if TYPE_CHECKING:
    from .api import Api

log = logging.getLogger(__name__)

CRD_RESOURCE = ("apiextensions.k8s.io", "customresourcedefinitions")


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of the CRD."""
    spec = crd["spec"]
    names = spec["names"]
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                status_subresource="status" in subresources,
                scale_subresource="scale" in subresources,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=list(version.get("additionalPrinterColumns") or []),
                from_crd=crd["metadata"]["name"],
            )
        )
    return result


def sync_registry(api: Api, crd: dict[str, Any]) -> None:
    """(Re-)register the CRD's versions and mark it Established."""
    name = crd["metadata"]["name"]
    api.registry.remove_crd(name)
    if crd["metadata"].get("deletionTimestamp"):
        return
    for rt in resource_types(crd):
        api.registry.add(rt)
    names = crd["spec"]["names"]
    accepted = {
        "plural": names["plural"],
        "kind": names["kind"],
        "singular": names.get("singular") or names["kind"].lower(),
        "listKind": names.get("listKind") or f"{names['kind']}List",
    }
    for key in ("shortNames", "categories"):
        if names.get(key):
            accepted[key] = names[key]
    stamp = now_rfc3339()
    status = {
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": stamp,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": stamp,
            },
        ],
        "acceptedNames": accepted,
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
    }
    old_status = crd.get("status") or {}
    if (
        old_status.get("acceptedNames") == accepted
        and old_status.get("storedVersions") == status["storedVersions"]
        and [c.get("type") for c in old_status.get("conditions") or []]
        == ["NamesAccepted", "Established"]
    ):
        return
    updated = deep_copy(crd)
    updated["status"] = status
    api.store.put(CRD_RESOURCE, updated, "MODIFIED")
    log.info("registered custom resource %s", name)


def unregister(api: Api, crd: dict[str, Any]) -> None:
    """CRD gone: its custom resources go with it, then the resource stops being served."""
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    for obj in list(api.store.iter((group, plural))):
        m = obj["metadata"]
        api.store.remove((group, plural), m.get("namespace", ""), m["name"])
        api.gc.on_removed(obj)
    api.registry.remove_crd(crd["metadata"]["name"])


def check_crd_update(api: Api, crd: dict[str, Any], old: dict[str, Any] | None) -> None:
    if old is None:
        return
    causes = []
    for path, new_v, old_v in (
        ("spec.group", crd["spec"].get("group"), old["spec"].get("group")),
        ("spec.scope", crd["spec"].get("scope"), old["spec"].get("scope")),
        (
            "spec.names.plural",
            crd["spec"]["names"].get("plural"),
            old["spec"]["names"].get("plural"),
        ),
    ):
        if new_v != old_v:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": path,
                    "message": f'{path}: Invalid value: "{new_v}": field is immutable',
                }
            )
    if causes:
        raise invalid(
            "CustomResourceDefinition", "apiextensions.k8s.io", crd["metadata"]["name"], causes
        )


def allows_create_on_update(rt: ResourceType) -> bool:
    """PUT creating a missing object: Kubernetes allows it for a few kinds such as Leases."""
    return rt.group_resource in {
        ("coordination.k8s.io", "leases"),
        ("", "events"),
        ("events.k8s.io", "events"),
    }
