"""Small helpers on raw object dicts shared by the API modules."""

from __future__ import annotations

import datetime
import json
import random
import uuid
from typing import Any

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339(offset_seconds: float = 0) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(random.choices(_GENERATE_ALPHABET, k=5))


def deep_copy(obj: Any) -> Any:
    """JSON round trip: faster than copy.deepcopy for plain JSON trees and drops odd types."""
    return json.loads(json.dumps(obj))


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("metadata")
    if not isinstance(value, dict):
        value = obj["metadata"] = {}
    return value


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: all top-level fields but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def key_of(obj: dict[str, Any]) -> tuple[str, str]:
    m = obj["metadata"]
    return (m.get("namespace", ""), m["name"])
