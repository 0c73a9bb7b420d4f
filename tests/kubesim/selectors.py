"""Label and field selectors in their query-string syntax.

``labelSelector`` supports ``=``, ``==``, ``!=``, ``in``, ``notin``, ``key`` (exists) and
``!key``; ``fieldSelector`` supports ``=``, ``==`` and ``!=`` on any dotted field path (the real
apiserver allows only a per-kind whitelist such as ``status.phase`` or ``spec.nodeName``; being
more lenient never breaks a correct client).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

_KEY_RE = re.compile(r"[A-Za-z0-9_./-]+")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        return False


Selector = Callable[[dict[str, Any]], bool]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``( ... )`` value sets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse ``a=b,c in (x,y),!d`` into requirements; 400 on syntax errors like the apiserver."""
    requirements = []
    for part in _split_top_level(text or ""):
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            requirements.append(Requirement(m.group(1), m.group(2), values))
            continue
        m = re.fullmatch(r"([^!=\s]+)\s*(==|!=|=)\s*(\S*)", part)
        if m:
            op = "=" if m.group(2) in ("=", "==") else "!="
            requirements.append(Requirement(m.group(1), op, (m.group(3),)))
            continue
        if part.startswith("!") and _KEY_RE.fullmatch(part[1:].strip()):
            requirements.append(Requirement(part[1:].strip(), "!exists"))
            continue
        if _KEY_RE.fullmatch(part):
            requirements.append(Requirement(part, "exists"))
            continue
        raise bad_request(f"unable to parse requirement: {part!r}")
    return requirements


def label_selector(text: str | None) -> Selector | None:
    """A predicate on whole objects, or ``None`` when there is nothing to filter."""
    if not text:
        return None
    reqs = parse_label_selector(text)

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form of a dotted field; missing fields read as ``""`` (so ``spec.nodeName=``
    selects unscheduled pods, as in Kubernetes)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(text: str) -> list[tuple[str, str, str]]:
    terms = []
    for part in _split_top_level(text or ""):
        m = re.fullmatch(r"([^!=\s]+)\s*(==|!=|=)\s*(.*)", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        op = "=" if m.group(2) in ("=", "==") else "!="
        terms.append((m.group(1), op, m.group(3).strip()))
    return terms


def field_selector(text: str | None) -> Selector | None:
    if not text:
        return None
    terms = parse_field_selector(text)

    def match(obj: dict[str, Any]) -> bool:
        for path, op, value in terms:
            actual = field_value(obj, path)
            if (actual == value) != (op == "="):
                return False
        return True

    return match


def exact_field_value(text: str | None, path: str) -> str | None:
    """If the selector pins ``path`` with ``=``, its value - lets lookups skip a full scan."""
    if not text:
        return None
    for p, op, value in parse_field_selector(text):
        if p == path and op == "=":
            return value
    return None


def combine(*selectors: Selector | None) -> Selector | None:
    active = [s for s in selectors if s is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]
    return lambda obj: all(s(obj) for s in active)


def match_label_selector_object(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Evaluate a ``metav1.LabelSelector`` object (matchLabels/matchExpressions)."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        req = Requirement(
            expr["key"], ops.get(expr.get("operator", ""), "?"), tuple(expr.get("values") or ())
        )
        if not req.matches(labels):
            return False
    return True
