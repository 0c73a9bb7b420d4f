"""apimachinery's ObjectMeta rules and the size limits an operator can actually hit.

These catch bugs a permissive fake would hide: a label value built from a long TuningJob name
(> 63 characters), a ConfigMap journal chunk over 1 MiB, an ownerReference without a uid.
Messages follow Kubernetes' wording.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

Cause = dict[str, str]

_NAME_RE = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME = re.compile(_NAME_RE)
_VALUE = re.compile(f"({_NAME_RE})?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
MAX_ANNOTATIONS_BYTES = 256 * 1024
MAX_CONFIG_BYTES = 1024 * 1024


def _bad(field: str, value: Any, detail: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "field": field,
        "message": f"{field}: Invalid value: {json.dumps(value)}: {detail}",
    }


def _qualified_name_errors(key: str, field: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    causes = []
    if "/" in prefix:
        causes.append(
            _bad(
                field,
                key,
                "a qualified name must consist of alphanumeric "
                "characters, '-', '_' or '.', with an optional DNS "
                "subdomain prefix and '/'",
            )
        )
        return causes
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        causes.append(
            _bad(
                field,
                key,
                "prefix part a lowercase RFC 1123 subdomain must "
                "consist of lower case alphanumeric characters, '-' or "
                "'.', and must start and end with an alphanumeric "
                "character",
            )
        )
    if not name:
        causes.append(_bad(field, key, "name part must be non-empty"))
    elif len(name) > 63:
        causes.append(_bad(field, key, "name part must be no more than 63 characters"))
    elif not _NAME.fullmatch(name):
        causes.append(
            _bad(
                field,
                key,
                "name part must consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an "
                f"alphanumeric character (regex used for validation is "
                f"'{_NAME_RE}')",
            )
        )
    return causes


def validate_labels(labels: Any, field: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [_bad(field, labels, "must be a map of strings")]
    causes = []
    for key, value in labels.items():
        causes += _qualified_name_errors(str(key), field)
        if not isinstance(value, str):
            causes.append(_bad(field, value, "label values must be strings"))
        elif len(value) > 63:
            causes.append(_bad(field, value, "must be no more than 63 characters"))
        elif not _VALUE.fullmatch(value):
            causes.append(
                _bad(
                    field,
                    value,
                    "a valid label must be an empty string or consist "
                    "of alphanumeric characters, '-', '_' or '.', and "
                    "must start and end with an alphanumeric character",
                )
            )
    return causes


def validate_metadata(meta: dict[str, Any], field: str = "metadata") -> list[Cause]:
    causes = validate_labels(meta.get("labels"), f"{field}.labels")
    annotations = meta.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            causes.append(_bad(f"{field}.annotations", annotations, "must be a map of strings"))
        else:
            for key in annotations:
                causes += _qualified_name_errors(str(key), f"{field}.annotations")
            size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
            if size > MAX_ANNOTATIONS_BYTES:
                causes.append(
                    {
                        "reason": "FieldValueTooLong",
                        "field": f"{field}.annotations",
                        "message": f"{field}.annotations: Too long: must have at most "
                        f"{MAX_ANNOTATIONS_BYTES} bytes",
                    }
                )
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for required in ("apiVersion", "kind", "name", "uid"):
            if not (isinstance(ref, dict) and ref.get(required)):
                path = f"{field}.ownerReferences[{i}].{required}"
                causes.append(
                    {
                        "reason": "FieldValueRequired"
                        if required != "uid"
                        else "FieldValueInvalid",
                        "field": path,
                        "message": f"{path}: Required value"
                        if required != "uid"
                        else f'{path}: Invalid value: "": uid must not be empty',
                    }
                )
    return causes


def validate_config_data(obj: dict[str, Any], secret: bool) -> list[Cause]:
    """ConfigMap/Secret keys and the 1 MiB total size limit."""
    causes: list[Cause] = []
    total = 0
    for field in ("data", "binaryData", "stringData"):
        values = obj.get(field)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if len(key) > 253 or not _CONFIG_KEY.fullmatch(key):
                causes.append(
                    _bad(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of "
                        "alphanumeric characters, '-', '_' "
                        "or '.'",
                    )
                )
            if not isinstance(value, str):
                causes.append(_bad(f"{field}[{key}]", value, "must be a string"))
                continue
            if field == "binaryData" or (secret and field == "data"):
                try:
                    total += len(base64.b64decode(value, validate=True))
                except ValueError:
                    causes.append(_bad(f"{field}[{key}]", "<value omitted>", "illegal base64 data"))
            else:
                total += len(value.encode())
    if total > MAX_CONFIG_BYTES:
        causes.append(
            {
                "reason": "FieldValueTooLong",
                "field": "data",
                "message": f"data: Too long: must have at most {MAX_CONFIG_BYTES} bytes",
            }
        )
    return causes


def validate_immutable(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """``immutable: true`` ConfigMaps and Secrets refuse data changes and un-setting it."""
    if old is None or not old.get("immutable"):
        return []
    causes = []
    for field in ("data", "binaryData"):
        if obj.get(field) != old.get(field):
            causes.append(
                {
                    "reason": "FieldValueForbidden",
                    "field": field,
                    "message": f"{field}: Forbidden: field is immutable when `immutable` is set",
                }
            )
    if not obj.get("immutable"):
        causes.append(
            {
                "reason": "FieldValueForbidden",
                "field": "immutable",
                "message": "immutable: Forbidden: field is immutable when `immutable` is set",
            }
        )
    return causes
