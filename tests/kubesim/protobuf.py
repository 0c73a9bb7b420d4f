"""Decode the Kubernetes protobuf request bodies that kubectl and helm send.

client-go's typed clients (``kubectl create configmap|secret|service|namespace|job|deployment|
role|rolebinding...``, ``kubectl run``, helm's release Secrets) POST/PUT
``application/vnd.kubernetes.protobuf`` bodies no matter what; answers may be JSON (they also
accept it), so only *decoding* is needed. Rather than compile the upstream ``generated.proto``
files, this carries field-number tables for the few kinds those tools create. Anything else
is answered with 415 and a clear message.

Wire format: ``k8s\\x00`` + ``runtime.Unknown{typeMeta{apiVersion, kind}, raw}`` where ``raw``
is the object's own message.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from .errors import ApiError

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# A schema maps field number -> (json name, kind, sub-schema or None, repeated?)
Field = tuple[str, str, Any, bool]
Schema = dict[int, Field]


def _f(name: str, kind: str = "string", sub: Any = None, repeated: bool = False) -> Field:
    return (name, kind, sub, repeated)


_TYPE_META: Schema = {1: _f("apiVersion"), 2: _f("kind")}
_UNKNOWN: Schema = {
    1: _f("typeMeta", "message", _TYPE_META),
    2: _f("raw", "bytes"),
    3: _f("contentEncoding"),
    4: _f("contentType"),
}
_TIME: Schema = {1: _f("seconds", "int"), 2: _f("nanos", "int")}
_OWNER_REF: Schema = {
    1: _f("kind"),
    3: _f("name"),
    4: _f("uid"),
    5: _f("apiVersion"),
    6: _f("controller", "bool"),
    7: _f("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Schema = {
    1: _f("name"),
    2: _f("generateName"),
    3: _f("namespace"),
    4: _f("selfLink"),
    5: _f("uid"),
    6: _f("resourceVersion"),
    7: _f("generation", "int"),
    8: _f("creationTimestamp", "time"),
    9: _f("deletionTimestamp", "time"),
    10: _f("deletionGracePeriodSeconds", "int"),
    11: _f("labels", "map", "string"),
    12: _f("annotations", "map", "string"),
    13: _f("ownerReferences", "message", _OWNER_REF, True),
    14: _f("finalizers", "string", None, True),
}
_EMPTY: Schema = {}
_QUANTITY_MAP = "quantity"
_INT_OR_STRING: Schema = {1: _f("type", "int"), 2: _f("intVal", "int"), 3: _f("strVal")}
_RESOURCES: Schema = {
    1: _f("limits", "map", _QUANTITY_MAP),
    2: _f("requests", "map", _QUANTITY_MAP),
}
_ENV: Schema = {1: _f("name"), 2: _f("value")}
_CONTAINER_PORT: Schema = {
    1: _f("name"),
    2: _f("hostPort", "int"),
    3: _f("containerPort", "int"),
    4: _f("protocol"),
    5: _f("hostIP"),
}
_CONTAINER: Schema = {
    1: _f("name"),
    2: _f("image"),
    3: _f("command", "string", None, True),
    4: _f("args", "string", None, True),
    5: _f("workingDir"),
    6: _f("ports", "message", _CONTAINER_PORT, True),
    7: _f("env", "message", _ENV, True),
    8: _f("resources", "message", _RESOURCES),
    13: _f("terminationMessagePath"),
    14: _f("imagePullPolicy"),
    15: _f("securityContext", "message", _EMPTY),
    16: _f("stdin", "bool"),
    17: _f("stdinOnce", "bool"),
    18: _f("tty", "bool"),
    20: _f("terminationMessagePolicy"),
}
_POD_SPEC: Schema = {
    2: _f("containers", "message", _CONTAINER, True),
    3: _f("restartPolicy"),
    4: _f("terminationGracePeriodSeconds", "int"),
    5: _f("activeDeadlineSeconds", "int"),
    6: _f("dnsPolicy"),
    7: _f("nodeSelector", "map", "string"),
    8: _f("serviceAccountName"),
    9: _f("serviceAccount"),
    10: _f("nodeName"),
    14: _f("securityContext", "message", _EMPTY),
    16: _f("hostname"),
    19: _f("schedulerName"),
    20: _f("initContainers", "message", _CONTAINER, True),
    24: _f("priorityClassName"),
}
_SERVICE_PORT: Schema = {
    1: _f("name"),
    2: _f("protocol"),
    3: _f("port", "int"),
    4: _f("targetPort", "intorstring", _INT_OR_STRING),
    5: _f("nodePort", "int"),
    6: _f("appProtocol"),
}
_SERVICE_SPEC: Schema = {
    1: _f("ports", "message", _SERVICE_PORT, True),
    2: _f("selector", "map", "string"),
    3: _f("clusterIP"),
    4: _f("type"),
    5: _f("externalIPs", "string", None, True),
    7: _f("sessionAffinity"),
    10: _f("externalName"),
    18: _f("clusterIPs", "string", None, True),
}

_LABEL_SELECTOR: Schema = {
    1: _f("matchLabels", "map", "string"),
    2: _f(
        "matchExpressions",
        "message",
        {1: _f("key"), 2: _f("operator"), 3: _f("values", "string", None, True)},
        True,
    ),
}
_POD_TEMPLATE: Schema = {
    1: _f("metadata", "message", _OBJECT_META),
    2: _f("spec", "message", _POD_SPEC),
}
_JOB_SPEC: Schema = {
    1: _f("parallelism", "int"),
    2: _f("completions", "int"),
    3: _f("activeDeadlineSeconds", "int"),
    4: _f("selector", "message", _LABEL_SELECTOR),
    5: _f("manualSelector", "bool"),
    6: _f("template", "message", _POD_TEMPLATE),
    7: _f("backoffLimit", "int"),
    8: _f("ttlSecondsAfterFinished", "int"),
    9: _f("completionMode"),
    10: _f("suspend", "bool"),
}
_DEPLOYMENT_SPEC: Schema = {
    1: _f("replicas", "int"),
    2: _f("selector", "message", _LABEL_SELECTOR),
    3: _f("template", "message", _POD_TEMPLATE),
    5: _f("minReadySeconds", "int"),
    6: _f("revisionHistoryLimit", "int"),
    7: _f("paused", "bool"),
}
_POLICY_RULE: Schema = {
    1: _f("verbs", "string", None, True),
    2: _f("apiGroups", "string", None, True),
    3: _f("resources", "string", None, True),
    4: _f("resourceNames", "string", None, True),
    5: _f("nonResourceURLs", "string", None, True),
}
_ROLE: Schema = {
    1: _f("metadata", "message", _OBJECT_META),
    2: _f("rules", "message", _POLICY_RULE, True),
}
_BINDING: Schema = {
    1: _f("metadata", "message", _OBJECT_META),
    2: _f(
        "subjects",
        "message",
        {1: _f("kind"), 2: _f("apiGroup"), 3: _f("name"), 4: _f("namespace")},
        True,
    ),
    3: _f("roleRef", "message", {1: _f("apiGroup"), 2: _f("kind"), 3: _f("name")}),
}
_RBAC = "rbac.authorization.k8s.io/v1"

_DELETE_OPTIONS: Schema = {
    1: _f("gracePeriodSeconds", "int"),
    2: _f("preconditions", "message", {1: _f("uid"), 2: _f("resourceVersion")}),
    3: _f("orphanDependents", "bool"),
    4: _f("propagationPolicy"),
    5: _f("dryRun", "string", None, True),
}

_RESOURCE_ATTRIBUTES: Schema = {
    1: _f("namespace"),
    2: _f("verb"),
    3: _f("group"),
    4: _f("version"),
    5: _f("resource"),
    6: _f("subresource"),
    7: _f("name"),
}
_ACCESS_SPEC: Schema = {
    1: _f("resourceAttributes", "message", _RESOURCE_ATTRIBUTES),
    2: _f("nonResourceAttributes", "message", {1: _f("path"), 2: _f("verb")}),
    3: _f("user"),
    4: _f("groups", "string", None, True),
    6: _f("uid"),
}
_AUTHZ = "authorization.k8s.io/v1"
_AUTHN = "authentication.k8s.io/v1"


def _review(spec: Schema) -> Schema:
    return {1: _f("metadata", "message", _OBJECT_META), 2: _f("spec", "message", spec)}


_KINDS: dict[tuple[str, str], Schema] = {
    (_AUTHZ, "SelfSubjectAccessReview"): _review(_ACCESS_SPEC),
    (_AUTHZ, "SubjectAccessReview"): _review(_ACCESS_SPEC),
    (_AUTHZ, "LocalSubjectAccessReview"): _review(_ACCESS_SPEC),
    (_AUTHZ, "SelfSubjectRulesReview"): _review({1: _f("namespace")}),
    (_AUTHN, "SelfSubjectReview"): {1: _f("metadata", "message", _OBJECT_META)},
    (_AUTHN, "TokenRequest"): _review(
        {1: _f("audiences", "string", None, True), 4: _f("expirationSeconds", "int")}
    ),
    ("batch/v1", "Job"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("spec", "message", _JOB_SPEC),
    },
    ("apps/v1", "Deployment"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("spec", "message", _DEPLOYMENT_SPEC),
    },
    (_RBAC, "Role"): _ROLE,
    (_RBAC, "ClusterRole"): _ROLE,
    (_RBAC, "RoleBinding"): _BINDING,
    (_RBAC, "ClusterRoleBinding"): _BINDING,
    ("v1", "DeleteOptions"): _DELETE_OPTIONS,
    ("meta.k8s.io/v1", "DeleteOptions"): _DELETE_OPTIONS,
    ("v1", "ConfigMap"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("data", "map", "string"),
        3: _f("binaryData", "map", "bytes"),
        4: _f("immutable", "bool"),
    },
    ("v1", "Secret"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("data", "map", "bytes"),
        3: _f("type"),
        4: _f("stringData", "map", "string"),
        5: _f("immutable", "bool"),
    },
    ("v1", "Namespace"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("spec", "message", {1: _f("finalizers", "string", None, True)}),
    },
    ("v1", "ServiceAccount"): {1: _f("metadata", "message", _OBJECT_META)},
    ("v1", "Service"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("spec", "message", _SERVICE_SPEC),
    },
    ("v1", "Pod"): {
        1: _f("metadata", "message", _OBJECT_META),
        2: _f("spec", "message", _POD_SPEC),
    },
}

# Non-pointer proto fields are always encoded, even when empty; JSON would omit them.
_KEEP_ZERO = {
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "deletionGracePeriodSeconds",
    "gracePeriodSeconds",
    "replicas",
    "backoffLimit",
    "parallelism",
    "completions",
    "ttlSecondsAfterFinished",
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, raw: Any) -> Any:
    if kind == "string":
        return raw.decode()
    if kind == "bytes":
        return base64.b64encode(raw).decode()
    if kind == "int":
        return _signed(raw)
    if kind == "bool":
        return bool(raw)
    raise ValueError(kind)


def _map_entry(raw: bytes, value_kind: str) -> tuple[str, Any]:
    key, value = "", ""
    for number, _, item in _fields(raw):
        if number == 1:
            key = item.decode()
        elif number == 2:
            if value_kind == _QUANTITY_MAP:
                value = _message(item, {1: _f("string")}).get("string", "")
            else:
                value = _scalar(value_kind, item)
    return key, value


def _time(raw: bytes) -> str | None:
    parts = _message(raw, _TIME, keep_empty=True)
    if not parts:
        return None
    moment = datetime.datetime.fromtimestamp(parts.get("seconds", 0), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(data: bytes, schema: Schema, keep_empty: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, _, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue  # a field this table does not know: dropped, like JSON pruning would
        name, kind, sub, repeated = spec
        if kind == "message":
            value: Any = _message(raw, sub)
        elif kind == "map":
            key, item = _map_entry(raw, sub)
            result.setdefault(name, {})[key] = item
            continue
        elif kind == "time":
            value = _time(raw)
        elif kind == "intorstring":
            ios = _message(raw, _INT_OR_STRING, keep_empty=True)
            value = ios.get("strVal", "") if ios.get("type") == 1 else ios.get("intVal", 0)
        else:
            value = _scalar(kind, raw)
        if repeated:
            result.setdefault(name, []).append(value)
        else:
            result[name] = value
    if keep_empty:
        return result
    return {
        k: v
        for k, v in result.items()
        if not (
            v in ("", None, [], {})
            or (v == 0 and not isinstance(v, bool) and k not in _KEEP_ZERO)
            or v is False
        )
    }


def decode(body: bytes) -> dict[str, Any]:
    """Decode one protobuf-encoded object into its JSON form (apiVersion and kind included)."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "protobuf body without the k8s envelope", "BadRequest")
    try:
        envelope = _message(body[len(MAGIC) :], _UNKNOWN, keep_empty=True)
        type_meta = envelope.get("typeMeta") or {}
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        schema = _KINDS.get((api_version, kind))
        if schema is None:
            raise ApiError(
                415,
                f"kubesim cannot decode protobuf bodies of {api_version} {kind}; "
                "send JSON (e.g. kubectl apply -f / create -f)",
                "UnsupportedMediaType",
            )
        raw = base64.b64decode(envelope.get("raw", ""))
        obj = _message(raw, schema)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"cannot decode protobuf body: {exc}", "BadRequest") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
