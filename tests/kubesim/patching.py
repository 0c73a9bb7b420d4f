"""The four PATCH flavours: JSON merge, JSON patch, strategic merge and server-side apply.

Strategic merge knows the merge keys of the lists controllers actually patch (containers, env,
volumes, ports, conditions...) instead of the full Go struct tags; everything else merges like a
JSON merge patch, i.e. lists are replaced.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

# field name -> merge key (None = merge primitive lists as sets, like metadata.finalizers)
_MERGE_KEYS: dict[str, str | None] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "addresses": "type",
    "finalizers": None,
}


def json_merge(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge(result.get(key), value)
    return result


# ---- RFC 6902 JSON patch ----------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, dict):
            if part not in cur:
                raise KeyError(part)
            cur = cur[part]
        elif isinstance(cur, list):
            cur = cur[_index(cur, part, allow_end=False)]
        else:
            raise KeyError(part)
    return cur


def _index(lst: list[Any], part: str, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(lst)
    if not part.isdigit():
        raise KeyError(part)
    idx = int(part)
    if idx > len(lst) or (idx == len(lst) and not allow_end):
        raise KeyError(part)
    return idx


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise KeyError(last)
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise KeyError(last)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise KeyError(last)


def json_patch(target: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply RFC 6902 operations; a missing path is 422 and a failed ``test`` is 422 too."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc: Any = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        try:
            if kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                _remove(doc, parts)
            elif kind == "replace":
                _resolve(doc, parts)
                if parts:
                    _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
            elif kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_resolve(doc, src))
                if kind == "move":
                    _remove(doc, src)
                doc = _add(doc, parts, value)
            elif kind == "test":
                if _resolve(doc, parts) != op.get("value"):
                    raise ApiError(
                        422,
                        f"the server rejected our request due to an error in our "
                        f"request: testing value {op['path']} failed",
                        "Invalid",
                    )
            else:
                raise bad_request(f"unknown json patch operation {kind!r}")
        except (KeyError, IndexError, TypeError) as exc:
            raise ApiError(
                422,
                f"the server rejected our request due to an error in our "
                f"request: jsonpatch {kind} operation does not apply: doc is "
                f'missing path: "{op["path"]}": {exc}',
                "Invalid",
            ) from None
    if not isinstance(doc, dict):
        raise ApiError(422, "json patch result is not an object", "Invalid")
    return doc


# ---- strategic merge patch --------------------------------------------------------------


def _list_merge_key(field: str, items: list[Any]) -> tuple[bool, str | None]:
    """(mergeable?, key) for a list field; ``ports`` keys on containerPort or port."""
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is not None:
            return True, "containerPort" if "containerPort" in sample else "port"
        return False, None
    if field in _MERGE_KEYS:
        return True, _MERGE_KEYS[field]
    return False, None


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    mergeable, key = _list_merge_key(field, patch or original)
    if not mergeable:
        return [_strip_directives(copy.deepcopy(p)) for p in patch]
    result = [copy.deepcopy(o) for o in original]
    if key is None:  # primitive set semantics
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    for item in patch:
        if not isinstance(item, dict):
            continue
        directive = item.get("$patch")
        idx = next(
            (
                i
                for i, o in enumerate(result)
                if isinstance(o, dict) and o.get(key) == item.get(key)
            ),
            None,
        )
        if directive == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if directive == "replace":
            clean = {k: v for k, v in item.items() if k != "$patch"}
            if idx is None:
                result.append(clean)
            else:
                result[idx] = clean
            continue
        if idx is None:
            result.append(_strip_directives(copy.deepcopy(item)))
        else:
            result[idx] = strategic_merge(result[idx], item)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def strategic_merge(original: Any, patch: Any) -> Any:
    """Kubernetes strategic merge: keyed lists merge item by item; ``$patch``, ``$retainKeys``,
    ``$deleteFromPrimitiveList/`` and ``$setElementOrder/`` directives are understood (the last
    one only as a hint: the merged order is kept)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if patch.get("$patch") == "delete":
        return None
    result = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            target = key.split("/", 1)[1]
            result[target] = [v for v in result.get(target) or [] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, list):
            result[key] = _merge_list(key, [], value)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def apply_patch(original: dict[str, Any], patch: dict[str, Any], builtin: bool) -> dict[str, Any]:
    """Server-side apply reduced to a merge: strategic for built-ins (keyed lists merge by key),
    JSON-merge for custom resources (lists are atomic). No managedFields bookkeeping."""
    merged = strategic_merge(original, patch) if builtin else json_merge(original, patch)
    assert isinstance(merged, dict)
    return merged
