"""Job status conditions and timestamps, as the Job controller writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .client import Obj

FINISHED_TYPES = ("Complete", "Failed")


def now() -> str:
    """The current time in the API's RFC 3339 seconds format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp as epoch seconds; None if absent or malformed."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def finished_condition(job: Obj) -> Obj | None:
    """The Job's ``Complete`` or ``Failed`` condition if it is True."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in FINISHED_TYPES and condition.get("status") == "True":
            return condition  # type: ignore[no-any-return]
    return None


def has_condition(conditions: list[dict[str, Any]], kind: str) -> bool:
    return any(c.get("type") == kind for c in conditions)


def set_condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str
) -> None:
    """Add or update a condition in place, keeping lastTransitionTime when status is unchanged."""
    stamp = now()
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = stamp
            condition.update(status=status, reason=reason, message=message, lastProbeTime=stamp)
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
