"""The JSONPath subset used by ``additionalPrinterColumns``.

Supports ``.field``, ``['key']``, ``[n]``, ``[*]`` and filters ``[?(@.a.b=="x")]`` with
``== != < <= > >=`` or bare existence ``[?(@.a)]``. That covers what CRD authors write for
printer columns, e.g. ``.status.conditions[?(@.type=="Complete")].status``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FILTER_RE = re.compile(
    r"\?\(\s*@((?:\.[A-Za-z0-9_\-/\\.]+?)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)"
)


def _tokens(path: str) -> list[tuple[str, Any]]:  # noqa: PLR0915 - one small tokenizer
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    tokens: list[tuple[str, Any]] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == ".":
            i += 1
            start = i
            name = []
            while i < len(path) and path[i] not in ".[":
                if path[i] == "\\" and i + 1 < len(path):
                    name.append(path[i + 1])
                    i += 2
                    continue
                name.append(path[i])
                i += 1
            if i > start:
                tokens.append(("field", "".join(name)))
        elif ch == "[":
            depth, j = 0, i
            while j < len(path):
                if path[j] == "[":
                    depth += 1
                elif path[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            inner = path[i + 1 : j].strip()
            i = j + 1
            if inner == "*":
                tokens.append(("all", None))
            elif inner.startswith("?"):
                m = _FILTER_RE.fullmatch(inner)
                if not m:
                    raise ValueError(f"unsupported filter {inner!r}")
                sub = [t[1] for t in _tokens(m.group(1))] if m.group(1) else []
                literal = None
                if m.group(3) is not None:
                    raw = m.group(3).strip()
                    if raw[:1] in "'\"":
                        literal = raw[1:-1]
                    else:
                        try:
                            literal = json.loads(raw)
                        except ValueError:
                            literal = raw
                tokens.append(("filter", (sub, m.group(2), literal)))
            elif inner[:1] in "'\"":
                tokens.append(("field", inner[1:-1]))
            else:
                tokens.append(("index", int(inner)))
        else:
            start = i
            while i < len(path) and path[i] not in ".[":
                i += 1
            tokens.append(("field", path[start:i]))
    return tokens


def _get(value: Any, fields: list[str]) -> tuple[bool, Any]:
    for f in fields:
        if not isinstance(value, dict) or f not in value:
            return False, None
        value = value[f]
    return True, value


def _compare(left: Any, op: str, right: Any) -> bool:
    try:
        if op == "==":
            return left == right or str(left) == str(right)
        if op == "!=":
            return not (left == right or str(left) == str(right))
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        return False
    return False


def evaluate(obj: Any, path: str) -> list[Any]:
    """All values the path selects (empty when nothing matches)."""
    current = [obj]
    for kind, arg in _tokens(path):
        nxt: list[Any] = []
        for value in current:
            if kind == "field":
                if isinstance(value, dict) and arg in value:
                    nxt.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    nxt.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    nxt.extend(value)
                elif isinstance(value, dict):
                    nxt.extend(value.values())
            elif kind == "filter":
                fields, op, literal = arg
                items = value if isinstance(value, list) else [value]
                for item in items:
                    found, got = _get(item, fields)
                    if op is None:
                        if found:
                            nxt.append(item)
                    elif found and _compare(got, op, literal):
                        nxt.append(item)
        current = nxt
    return current
