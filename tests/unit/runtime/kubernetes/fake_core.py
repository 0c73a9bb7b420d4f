"""An in-memory stand-in for the few ``CoreV1Api`` ConfigMap calls the study journal makes.

It keeps the rules the journal relies on: a global resourceVersion bumped on every write, a
``metadata.resourceVersion`` in a merge patch as a precondition (409 on mismatch),
``AlreadyExists`` on create, immutable ConfigMaps, the 1 MiB data limit, equality label
selectors and paginated lists. Faults are injected per verb, including "lost responses"
(the write is applied, then the connection drops). Every call is recorded in ``calls``.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

MAX_DATA_BYTES = 1024 * 1024
_SERIALIZER = client.ApiClient()


@dataclass
class Fault:
    verb: str
    status: int | None  # None: a connection error
    count: int
    retry_after: str | None = None
    after_write: bool = False  # apply the write, then lose the response


def _error(status: int, reason: str, retry_after: str | None = None) -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.headers = {"Retry-After": retry_after} if retry_after is not None else {}
    error.body = json.dumps({"kind": "Status", "code": status, "reason": reason})
    return error


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in (selector or "").split(","):
        if not term:
            continue
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class FakeCoreV1Api:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.resource_version = 0
        self.calls: list[tuple[str, str]] = []  # (verb, name or namespace)
        self.bodies: list[tuple[str, Any]] = []  # (verb, request body as sent)
        self.faults: list[Fault] = []

    # ---- test helpers ---------------------------------------------------------------------
    def fail(
        self,
        verb: str,
        status: int | None = 503,
        count: int = 1,
        *,
        retry_after: str | None = None,
        after_write: bool = False,
    ) -> None:
        self.faults.append(Fault(verb, status, count, retry_after, after_write))

    def count(self, *verbs: str) -> int:
        return sum(1 for verb, _ in self.calls if not verbs or verb in verbs)

    def configmaps(self, namespace: str) -> list[dict[str, Any]]:
        return [obj for (ns, _), obj in sorted(self.objects.items()) if ns == namespace]

    def edit(self, namespace: str, name: str, change: dict[str, Any]) -> None:
        """Someone else changes an object (a merge patch, no precondition)."""
        obj = _merge(self.objects[(namespace, name)], change)
        self._store(namespace, name, obj)

    # ---- fault plumbing -------------------------------------------------------------------
    def _fault(self, verb: str, after_write: bool) -> None:
        for fault in self.faults:
            if fault.verb == verb and fault.count > 0 and fault.after_write == after_write:
                fault.count -= 1
                if fault.status is None:
                    raise urllib3.exceptions.ProtocolError("connection reset by peer")
                raise _error(fault.status, "Injected", fault.retry_after)

    def _store(self, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        data = obj.get("data") or {}
        size = sum(len(k) + len(v.encode()) for k, v in data.items())
        if size > MAX_DATA_BYTES:
            raise _error(422, "Invalid: ConfigMap data must not exceed 1048576 bytes")
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        self.objects[(namespace, name)] = obj
        return obj

    @staticmethod
    def _model(obj: dict[str, Any]) -> client.V1ConfigMap:
        return cast(client.V1ConfigMap, client.V1ConfigMap.from_dict(copy.deepcopy(obj)))

    # ---- CoreV1Api ------------------------------------------------------------------------
    def list_namespaced_config_map(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        limit: int | None = None,
        _continue: str | None = None,
        **_: Any,
    ) -> client.V1ConfigMapList:
        self.calls.append(("list", namespace))
        self._fault("list", False)
        items = [
            obj
            for obj in self.configmaps(namespace)
            if _matches(obj["metadata"].get("labels") or {}, label_selector)
        ]
        start = int(_continue or 0)
        end = len(items) if not limit else start + limit
        token = str(end) if end < len(items) else None
        listed = {
            "apiVersion": "v1",
            "kind": "ConfigMapList",
            "metadata": {"resourceVersion": str(self.resource_version), "continue": token},
            "items": copy.deepcopy(items[start:end]),
        }
        return cast(client.V1ConfigMapList, client.V1ConfigMapList.from_dict(listed))

    def read_namespaced_config_map(self, name: str, namespace: str, **_: Any) -> client.V1ConfigMap:
        self.calls.append(("get", name))
        self._fault("get", False)
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise _error(404, "NotFound")
        return self._model(obj)

    def create_namespaced_config_map(
        self, namespace: str, body: Any, **_: Any
    ) -> client.V1ConfigMap:
        obj = _SERIALIZER.sanitize_for_serialization(body)
        name = obj["metadata"]["name"]
        self.calls.append(("create", name))
        self.bodies.append(("create", copy.deepcopy(obj)))
        self._fault("create", False)
        if (namespace, name) in self.objects:
            raise _error(409, "AlreadyExists")
        obj["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()))
        stored = self._store(namespace, name, obj)
        self._fault("create", True)
        return self._model(stored)

    def patch_namespaced_config_map(
        self, name: str, namespace: str, body: Any, *, _content_type: str | None = None, **_: Any
    ) -> client.V1ConfigMap:
        assert _content_type == "application/merge-patch+json", _content_type
        self.calls.append(("patch", name))
        self.bodies.append(("patch", copy.deepcopy(body)))
        self._fault("patch", False)
        old = self.objects.get((namespace, name))
        if old is None:
            raise _error(404, "NotFound")
        precondition = (body.get("metadata") or {}).get("resourceVersion")
        if precondition and precondition != old["metadata"]["resourceVersion"]:
            raise _error(409, "Conflict")
        new = _merge(old, body)
        if old.get("immutable") and new.get("data") != old.get("data"):
            raise _error(422, "Invalid: field is immutable when `immutable` is set")
        stored = self._store(namespace, name, new)
        self._fault("patch", True)
        return self._model(stored)

    def delete_collection_namespaced_config_map(
        self, namespace: str, *, label_selector: str | None = None, **_: Any
    ) -> None:
        self.calls.append(("deletecollection", namespace))
        for key, obj in list(self.objects.items()):
            if key[0] == namespace and _matches(
                obj["metadata"].get("labels") or {}, label_selector
            ):
                del self.objects[key]
