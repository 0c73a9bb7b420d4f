"""Structural-schema handling for custom resources: pruning, defaulting and validation.

A real apiserver rejects a bad custom resource with 422 and field-by-field messages such as
``spec.limits.maxTrials: Invalid value: 0: spec.limits.maxTrials in body should be greater than
or equal to 1``; tests of our CRD are only meaningful if the emulator does the same. The
validator is written here (not with ``jsonschema``) so messages, reasons and field paths come
out in Kubernetes' own wording. CEL rules (``x-kubernetes-validations``) are not evaluated.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Callable
from typing import Any

Cause = dict[str, str]

_ROOT_RESERVED = ("apiVersion", "kind", "metadata")


def _fmt(value: Any) -> str:
    """Go's ``%v``-ish rendering used by apimachinery field errors."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '"null"'
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(expected: str, value: Any) -> bool:
    actual = _type_of(value)
    if expected == "number":
        return actual in ("number", "integer")
    if expected == "integer" and actual == "number":
        return float(value).is_integer()  # JSON 1.0 is an integer to the apiserver too
    return actual == expected


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---- pruning and defaulting ------------------------------------------------------------


def prune_and_default(
    value: Any,
    schema: dict[str, Any],
    root: bool = False,
    dropped: list[str] | None = None,
    path: str = "",
) -> Any:
    """Drop fields the structural schema does not know and fill in ``default`` values.

    Mirrors the apiserver: unknown fields vanish silently unless the node (or an ancestor
    with nothing more specific) sets ``x-kubernetes-preserve-unknown-fields``; ``metadata``,
    ``apiVersion`` and ``kind`` at the root and in embedded resources are always kept.
    Pruned field paths are appended to ``dropped`` (for ``fieldValidation=Strict|Warn``).
    """
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        keep_reserved = root or embedded
        result: dict[str, Any] = {}
        for key, item in value.items():
            sub_path = _join(path, key)
            if key in props:
                result[key] = prune_and_default(item, props[key], False, dropped, sub_path)
            elif keep_reserved and key in _ROOT_RESERVED:
                result[key] = item
            elif isinstance(additional, dict):
                result[key] = prune_and_default(item, additional, False, dropped, sub_path)
            elif additional is True or preserve:
                result[key] = item
            elif not props and schema.get("type") != "object" and not additional:
                result[key] = item  # schema-less node (e.g. int-or-string): leave alone
            elif dropped is not None:
                dropped.append(sub_path)
        for key, sub in props.items():
            missing = key not in result or (result[key] is None and not sub.get("nullable"))
            if isinstance(sub, dict) and "default" in sub and missing:
                result[key] = prune_and_default(copy.deepcopy(sub["default"]), sub)
        return result
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [
                prune_and_default(v, items, False, dropped, f"{path}[{i}]")
                for i, v in enumerate(value)
            ]
        return value
    return value


# ---- validation -------------------------------------------------------------------------


def _parse_datetime(s: str) -> bool:
    try:
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


_HOSTNAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _parse_datetime,
    "date": lambda s: bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)),
    "uuid": lambda s: bool(re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", s)),
    "int-or-string": lambda s: True,
    "byte": lambda s: bool(re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s)),
    "hostname": lambda s: bool(_HOSTNAME.fullmatch(s)),
}


def validate(value: Any, schema: dict[str, Any], path: str = "", root: bool = True) -> list[Cause]:
    """Return Kubernetes-style causes (empty list = valid)."""
    causes: list[Cause] = []
    _validate(value, schema, path, causes, root)
    return causes


def _invalid(
    causes: list[Cause], path: str, value: Any, detail: str, reason: str = "FieldValueInvalid"
) -> None:
    causes.append(
        {
            "reason": reason,
            "field": path,
            "message": f"{path}: Invalid value: {_fmt(value)}: {detail}",
        }
    )


def _validate(
    value: Any, schema: dict[str, Any], path: str, causes: list[Cause], root: bool = False
) -> None:
    if not isinstance(schema, dict):
        return
    shown = path or "<root>"
    if value is None:
        if schema.get("nullable") or not schema.get("type"):
            return
        _invalid(
            causes,
            shown,
            "null",
            f'{shown} in body must be of type {schema["type"]}: "null"',
            "FieldValueTypeInvalid",
        )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if _type_of(value) not in ("integer", "string"):
            _invalid(
                causes,
                shown,
                value,
                f"{shown} in body must be of type integer,string: {_fmt(_type_of(value))}",
                "FieldValueTypeInvalid",
            )
            return
    elif schema.get("type"):
        expected = schema["type"]
        if not _type_ok(expected, value):
            _invalid(
                causes,
                shown,
                value,
                f"{shown} in body must be of type {expected}: {_fmt(_type_of(value))}",
                "FieldValueTypeInvalid",
            )
            return

    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_fmt(v) for v in schema["enum"])
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "field": shown,
                "message": f"{shown}: Unsupported value: {_fmt(value)}: "
                f"supported values: {supported}",
            }
        )

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, shown, causes)
    elif isinstance(value, str):
        _validate_string(value, schema, shown, causes)
    elif isinstance(value, list):
        _validate_array(value, schema, shown, causes)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, causes, root)

    for sub in schema.get("allOf") or []:
        _validate(value, sub, path, causes)
    if schema.get("anyOf") and all(validate(value, s, path, False) for s in schema["anyOf"]):
        _invalid(causes, shown, value, f"{shown} in body must match at least one schema in anyOf")
    if schema.get("oneOf"):
        matching = sum(1 for s in schema["oneOf"] if not validate(value, s, path, False))
        if matching != 1:
            _invalid(
                causes, shown, value, f"{shown} in body must match exactly one schema in oneOf"
            )
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path, False):
        _invalid(causes, shown, value, f"{shown} in body must not match the schema in not")


def _validate_number(value: float, schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    if "minimum" in schema:
        lo = schema["minimum"]
        if schema.get("exclusiveMinimum") is True and value <= lo:
            _invalid(causes, path, value, f"{path} in body should be greater than {lo}")
        elif value < lo:
            _invalid(causes, path, value, f"{path} in body should be greater than or equal to {lo}")
    if "maximum" in schema:
        hi = schema["maximum"]
        if schema.get("exclusiveMaximum") is True and value >= hi:
            _invalid(causes, path, value, f"{path} in body should be less than {hi}")
        elif value > hi:
            _invalid(causes, path, value, f"{path} in body should be less than or equal to {hi}")
    mult = schema.get("multipleOf")
    if mult and (value / mult) != int(value / mult):
        _invalid(causes, path, value, f"{path} in body should be a multiple of {mult}")


def _validate_string(value: str, schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        _invalid(
            causes,
            path,
            value,
            f"{path} in body should be at least {schema['minLength']} chars long",
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        causes.append(
            {
                "reason": "FieldValueTooLong",
                "field": path,
                "message": f"{path}: Too long: may not be more than {schema['maxLength']} bytes",
            }
        )
    pattern = schema.get("pattern")
    if pattern:
        try:
            ok = re.search(pattern, value) is not None
        except re.error:
            ok = True
        if not ok:
            _invalid(causes, path, value, f"{path} in body should match '{pattern}'")
    fmt = schema.get("format")
    checker: Callable[[str], bool] | None = _FORMATS.get(fmt or "")
    if checker is not None and not checker(value):
        _invalid(causes, path, value, f"{path} in body must be of type {fmt}: {_fmt(value)}")


def _validate_array(
    value: list[Any], schema: dict[str, Any], path: str, causes: list[Cause]
) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        _invalid(
            causes,
            path,
            len(value),
            f"{path} in body should have at least {schema['minItems']} items",
        )
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        causes.append(
            {
                "reason": "FieldValueTooMany",
                "field": path,
                "message": f"{path}: Too many: {len(value)}: must have at most "
                f"{schema['maxItems']} items",
            }
        )
    if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                causes.append(
                    {
                        "reason": "FieldValueDuplicate",
                        "field": f"{path}[{i}]",
                        "message": f"{path}[{i}]: Duplicate value: {_fmt(item)}",
                    }
                )
            seen.append(item)
    if schema.get("x-kubernetes-list-type") == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key = {k: item.get(k) for k in keys}
            token = json.dumps(key, sort_keys=True)
            if token in seen_keys:
                causes.append(
                    {
                        "reason": "FieldValueDuplicate",
                        "field": f"{path}[{i}]",
                        "message": f"{path}[{i}]: Duplicate value: "
                        f"map[string]interface {{}}{_fmt(key)}",
                    }
                )
            seen_keys.add(token)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", causes)


def _validate_object(
    value: dict[str, Any], schema: dict[str, Any], path: str, causes: list[Cause], root: bool
) -> None:
    for key in schema.get("required") or []:
        if key not in value:
            field = _join(path, key)
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "field": field,
                    "message": f"{field}: Required value",
                }
            )
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        _invalid(
            causes,
            path or "<root>",
            value,
            f"{path} in body should have at least {schema['minProperties']} properties",
        )
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        _invalid(
            causes,
            path or "<root>",
            value,
            f"{path} in body should have at most {schema['maxProperties']} properties",
        )
    props = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if root and key in _ROOT_RESERVED:
            continue
        if key in props:
            _validate(item, props[key], _join(path, key), causes)
        elif isinstance(additional, dict):
            _validate(item, additional, _join(path, key), causes)


# ---- CRD sanity ---------------------------------------------------------------------------


def validate_crd(crd: dict[str, Any]) -> list[Cause]:
    """Reject CRDs that are malformed in the ways a typo produces (not the full apiserver rules)."""
    causes: list[Cause] = []

    def req(field: str) -> None:
        causes.append(
            {"reason": "FieldValueRequired", "field": field, "message": f"{field}: Required value"}
        )

    def bad(field: str, value: Any, why: str) -> None:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "field": field,
                "message": f"{field}: Invalid value: {_fmt(value)}: {why}",
            }
        )

    spec = crd.get("spec") or {}
    group = spec.get("group")
    names = spec.get("names") or {}
    if not group:
        req("spec.group")
    elif "." not in group:
        bad("spec.group", group, "should be a domain with at least one dot")
    for key in ("plural", "kind"):
        if not names.get(key):
            req(f"spec.names.{key}")
    plural = names.get("plural", "")
    if plural and plural != plural.lower():
        bad(
            "spec.names.plural",
            plural,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
        )
    name = (crd.get("metadata") or {}).get("name", "")
    if group and plural and name != f"{plural}.{group}":
        bad("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "field": "spec.scope",
                "message": f"spec.scope: Unsupported value: {_fmt(spec.get('scope', ''))}: "
                'supported values: "Cluster", "Namespaced"',
            }
        )
    versions = spec.get("versions") or []
    if not versions:
        req("spec.versions")
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if versions and len(storage) != 1:
        bad(
            "spec.versions",
            [v.get("name") for v in versions if isinstance(v, dict)],
            "must have exactly one version marked as storage version",
        )
    for i, version in enumerate(versions):
        if not isinstance(version, dict) or not version.get("name"):
            req(f"spec.versions[{i}].name")
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            req(f"spec.versions[{i}].schema.openAPIV3Schema")
            continue
        if not isinstance(schema, dict):
            bad(f"spec.versions[{i}].schema.openAPIV3Schema", schema, "must be an object")
            continue
        if schema.get("type") != "object":
            bad(
                f"spec.versions[{i}].schema.openAPIV3Schema.type",
                schema.get("type", ""),
                "must be object at the root",
            )
        _check_schema_node(schema, f"spec.versions[{i}].schema.openAPIV3Schema", causes)
    return causes


_VALID_TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def _check_schema_node(node: dict[str, Any], path: str, causes: list[Cause]) -> None:
    node_type = node.get("type")
    if node_type is not None and node_type not in _VALID_TYPES:
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "field": f"{path}.type",
                "message": f"{path}.type: Unsupported value: {_fmt(node_type)}: supported "
                'values: "array", "boolean", "integer", "number", '
                '"object", "string"',
            }
        )
    if node_type is None and not (
        node.get("x-kubernetes-int-or-string")
        or node.get("x-kubernetes-preserve-unknown-fields")
        or any(k in node for k in ("allOf", "anyOf", "oneOf", "not"))
    ):
        causes.append(
            {
                "reason": "FieldValueRequired",
                "field": f"{path}.type",
                "message": f"{path}.type: Required value: must not be empty for specified "
                "object fields",
            }
        )
    if node_type == "array" and not isinstance(node.get("items"), dict):
        causes.append(
            {
                "reason": "FieldValueRequired",
                "field": f"{path}.items",
                "message": f"{path}.items: Required value: must be specified",
            }
        )
    for key, sub in (node.get("properties") or {}).items():
        if isinstance(sub, dict):
            _check_schema_node(sub, f"{path}.properties[{key}]", causes)
    if isinstance(node.get("items"), dict):
        _check_schema_node(node["items"], f"{path}.items", causes)
    if isinstance(node.get("additionalProperties"), dict):
        _check_schema_node(node["additionalProperties"], f"{path}.additionalProperties", causes)
