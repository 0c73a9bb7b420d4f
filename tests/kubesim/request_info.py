"""Classify a request the way the apiserver's RequestInfoFactory does.

Routing, the request log and fault matching all need the Kubernetes verb
(get/list/watch/create/update/patch/delete/deletecollection) and the
group/resource/subresource/namespace/name of a URL, so it is computed once here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass
class RequestInfo:
    is_resource: bool
    verb: str
    path: str
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")


def parse(method: str, path: str, query: dict[str, str]) -> RequestInfo:  # noqa: PLR0915
    method = method.upper()
    parts = [p for p in path.split("/") if p]
    lower_verb = method.lower()
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, lower_verb, path)
    prefix = parts[0]
    if prefix == "api":
        if len(parts) < 2:
            return RequestInfo(False, lower_verb, path, prefix)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            group = parts[1] if len(parts) > 1 else ""
            return RequestInfo(False, lower_verb, path, prefix, group=group)
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return RequestInfo(False, lower_verb, path, prefix, group, version)
    info = RequestInfo(True, "", path, prefix, group, version)
    watch_prefix = False
    if rest[0] == "watch":
        watch_prefix = True
        rest = rest[1:]
    if rest and rest[0] == "namespaces":
        if len(rest) > 1:
            info.namespace = rest[1]
            if len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
            else:
                info.resource, info.name = "namespaces", rest[1]
                info.namespace = ""
                if len(rest) >= 3:
                    info.subresource = rest[2]
                rest = []
        else:
            info.resource = "namespaces"
            rest = []
    if rest:
        info.resource = rest[0]
        if len(rest) > 1:
            info.name = rest[1]
        if len(rest) > 2:
            info.subresource = rest[2]
    if info.resource == "namespaces" and info.name and not info.subresource:
        info.namespace = ""
    if watch_prefix or (method == "GET" and _truthy(query.get("watch"))):
        info.verb = "watch"
    elif method in ("GET", "HEAD"):
        info.verb = "get" if info.name else "list"
    elif method == "POST":
        info.verb = "create"
    elif method == "PUT":
        info.verb = "update"
    elif method == "PATCH":
        info.verb = "patch"
    elif method == "DELETE":
        info.verb = "delete" if info.name else "deletecollection"
    else:
        info.verb = lower_verb
    return info
