"""The Helm values table of docs/install.md, from ``values.yaml`` and its ``# --`` comments.

The comment convention is helm-docs': a comment block that starts with ``# --`` right above a
key documents that key. A documented mapping is one row (its whole default); an undocumented
mapping is expanded into its keys. Every row must have a description: an undocumented value
is an error, so a value cannot be added to the chart without saying what it does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dev.docs.markdown import cell, code, table

SOURCE = Path("charts/kubetune/values.yaml")

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):")
_DOC_START = re.compile(r"^ *# -- ?(?P<text>.*)$")
_DOC_MORE = re.compile(r"^ *# ?(?P<text>.*)$")


class UndocumentedValue(ValueError):
    """A value in values.yaml has no ``# --`` comment (and is not a mapping of documented ones)."""


def comments(text: str) -> dict[str, str]:
    """The ``# --`` description of each key, by dotted path (``operator.keepBestJob``)."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in text.splitlines():
        if start := _DOC_START.match(line):
            pending = [start["text"]]
            continue
        if pending is not None and (more := _DOC_MORE.match(line)):
            pending.append(more["text"])
            continue
        key = _KEY.match(line)
        if key is None:
            pending = None
            continue
        indent = len(key["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key["key"]))
        if pending is not None:
            found[".".join(name for _, name in stack)] = " ".join(" ".join(pending).split())
        pending = None
    return found


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return code(str(value).lower())
    if value == "":
        return code('""')
    if isinstance(value, dict | list):
        return code(json.dumps(value, separators=(",", ":")))
    return code(str(value))


def rows(
    values: dict[str, Any], described: dict[str, str], prefix: str = ""
) -> Iterator[list[str]]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path not in described and isinstance(value, dict) and value:
            yield from rows(value, described, f"{path}.")
            continue
        if path not in described:
            raise UndocumentedValue(f"{SOURCE}: {path} has no '# --' comment")
        yield [code(path), _shown(value), cell(described[path])]


def render(root: Path) -> str:
    """The table, between the markers of docs/install.md."""
    text = (root / SOURCE).read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    lines = table(["value", "default", "description"], rows(values, comments(text)))
    return "\n".join(lines) + "\n"
