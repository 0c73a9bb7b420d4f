"""Server-side printing: ``meta.k8s.io/v1 Table`` answers for ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints whatever columns
the server returns, so this is where a CRD's ``additionalPrinterColumns`` become visible.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from .jsonpath import evaluate
from .objects import parse_rfc3339
from .resources import ResourceType

Column = dict[str, Any]

_NAME_COLUMN: Column = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace.",
}
_AGE_COLUMN: Column = {
    "name": "Age",
    "type": "string",
    "format": "",
    "priority": 0,
    "description": "CreationTimestamp is a timestamp representing the server "
    "time when this object was created.",
}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept.replace(" ", "")


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = parse_rfc3339(timestamp)
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _col(name: str, type_: str = "string", priority: int = 0, fmt: str = "") -> Column:
    return {"name": name, "type": type_, "format": fmt, "priority": priority, "description": name}


def _pod_row(o: dict[str, Any]) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = status.get("reason") or status.get("phase", "Unknown")
    for c in statuses:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and status.get("phase") not in ("Succeeded",):
            term = state["terminated"]
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode', 0)}"
    if status.get("phase") == "Succeeded":
        reason = "Completed"
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        o["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restarts,
        _age(o["metadata"].get("creationTimestamp")),
        status.get("podIP", "<none>"),
        spec.get("nodeName", "<none>"),
    ]


def _job_row(o: dict[str, Any]) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conds.get("Complete") == "True":
        state = "Complete"
    elif conds.get("Failed") == "True":
        state = "Failed"
    elif conds.get("FailureTarget") == "True":
        state = "FailureTarget"
    elif spec.get("suspend"):
        state = "Suspended"
    else:
        state = "Running"
    completions = spec.get("completions")
    done = status.get("succeeded", 0)
    if completions is not None:
        comp = f"{done}/{completions}"
    else:
        comp = f"{done}/1 of {spec.get('parallelism', 1)}"
    duration = ""
    if status.get("startTime"):
        end = status.get("completionTime")
        try:
            start_t = parse_rfc3339(status["startTime"])
            end_t = parse_rfc3339(end) if end else datetime.datetime.now(datetime.UTC)
            duration = human_duration((end_t - start_t).total_seconds())
        except ValueError:
            duration = ""
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    match_labels = (spec.get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in match_labels.items())
    age = _age(o["metadata"].get("creationTimestamp"))
    return [
        o["metadata"]["name"],
        state,
        comp,
        duration,
        age,
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        selector,
    ]


def _node_row(o: dict[str, Any]) -> list[Any]:
    status = o.get("status") or {}
    ready = next(
        (c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None
    )
    state = "Ready" if ready == "True" else "NotReady" if ready else "Unknown"
    if (o.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = [
        k.split("/", 1)[1]
        for k in (o["metadata"].get("labels") or {})
        if k.startswith("node-role.kubernetes.io/")
    ]
    return [
        o["metadata"]["name"],
        state,
        ",".join(roles) or "<none>",
        _age(o["metadata"].get("creationTimestamp")),
        (status.get("nodeInfo") or {}).get("kubeletVersion", ""),
    ]


def _event_row(o: dict[str, Any]) -> list[Any]:
    involved = o.get("involvedObject") or o.get("regarding") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    return [
        _age(last),
        o.get("type", ""),
        o.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        o.get("message") or o.get("note", ""),
    ]


_BUILTIN: dict[tuple[str, str], tuple[list[Column], Callable[[dict[str, Any]], list[Any]]]] = {
    ("", "pods"): (
        [
            _NAME_COLUMN,
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "integer"),
            _AGE_COLUMN,
            _col("IP", priority=1),
            _col("Node", priority=1),
        ],
        _pod_row,
    ),
    ("batch", "jobs"): (
        [
            _NAME_COLUMN,
            _col("Status"),
            _col("Completions"),
            _col("Duration"),
            _AGE_COLUMN,
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _job_row,
    ),
    ("", "nodes"): (
        [_NAME_COLUMN, _col("Status"), _col("Roles"), _AGE_COLUMN, _col("Version")],
        _node_row,
    ),
    ("", "namespaces"): (
        [_NAME_COLUMN, _col("Status"), _AGE_COLUMN],
        lambda o: [
            o["metadata"]["name"],
            (o.get("status") or {}).get("phase", ""),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    ("", "configmaps"): (
        [_NAME_COLUMN, _col("Data", "integer"), _AGE_COLUMN],
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    ("", "secrets"): (
        [_NAME_COLUMN, _col("Type"), _col("Data", "integer"), _AGE_COLUMN],
        lambda o: [
            o["metadata"]["name"],
            o.get("type", ""),
            len(o.get("data") or {}),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    ("", "services"): (
        [
            _NAME_COLUMN,
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            _AGE_COLUMN,
        ],
        lambda o: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("type", ""),
            (o.get("spec") or {}).get("clusterIP", ""),
            "<none>",
            ",".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                for p in (o.get("spec") or {}).get("ports") or []
            )
            or "<none>",
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    ("", "events"): (
        [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
        _event_row,
    ),
    ("events.k8s.io", "events"): (
        [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
        _event_row,
    ),
    ("coordination.k8s.io", "leases"): (
        [_NAME_COLUMN, _col("Holder"), _AGE_COLUMN],
        lambda o: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("holderIdentity", ""),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [_NAME_COLUMN, _col("Created At", "date")],
        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")],
    ),
}


def _format_cell(value: Any, column: Column) -> Any:
    if value is None:
        return None
    kind = column.get("type", "string")
    if kind == "date":
        return _age(value) if isinstance(value, str) else str(value)
    if kind == "integer":
        return value if isinstance(value, int) else str(value)
    if kind == "number":
        return value if isinstance(value, (int, float)) else str(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value) if not isinstance(value, str) else value


def columns_for(rt: ResourceType) -> tuple[list[Column], Callable[[dict[str, Any]], list[Any]]]:
    builtin = _BUILTIN.get(rt.group_resource)
    if builtin is not None:
        return builtin
    printer = rt.printer_columns
    if not printer:
        return [_NAME_COLUMN, _AGE_COLUMN], lambda o: [
            o["metadata"]["name"],
            _age(o["metadata"].get("creationTimestamp")),
        ]
    columns = [_NAME_COLUMN] + [
        {
            "name": c.get("name", ""),
            "type": c.get("type", "string"),
            "format": c.get("format", ""),
            "description": c.get("description", ""),
            "priority": c.get("priority", 0),
        }
        for c in printer
    ]

    def row(o: dict[str, Any]) -> list[Any]:
        cells: list[Any] = [o["metadata"]["name"]]
        for column in printer:
            try:
                values = evaluate(o, column.get("jsonPath", ""))
            except (ValueError, IndexError):
                values = []
            cells.append(_format_cell(values[0] if values else None, column))
        return cells

    return columns, row


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str | None = None,
    with_columns: bool = True,
) -> dict[str, Any]:
    columns, row = columns_for(rt)
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj)}
        partial = _row_object(obj, include_object or "Metadata")
        if partial is not None:
            entry["object"] = partial
        rows.append(entry)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns if with_columns else [],
        "rows": rows,
    }
