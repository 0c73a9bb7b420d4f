"""``GET pods/{name}/log``: serve the file the kubelet writes at ``container_log_path``.

The kubelet writes every line with a leading RFC 3339 timestamp and one space (the CRI log
format, see ``logs``): the timestamp is stripped unless ``timestamps=true``, and
``sinceSeconds``/``sinceTime`` keep the lines stamped at or after that moment. Lines without a
timestamp (written by tests) are served as they are, filtered on the file's modification time.
``tailLines`` and ``limitBytes`` apply after that. ``follow`` polls the file and ends once the
container's status shows ``state.terminated`` or the pod is gone. ``previous`` serves the run
that the container status's ``lastState.terminated`` describes (the container's runs all append
to one file; without ``previous`` the whole file is served).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .errors import ApiError, bad_request
from .logs import container_log_path, container_runs_path, log_timestamp
from .objects import parse_rfc3339
from .store import Store

_TS_RE = re.compile(rb"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) ")
_POLL = 0.1


def _choose_container(pod: dict[str, Any], requested: str | None) -> str:
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    init_names = [c.get("name") for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in names + init_names:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return str(names[0])
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: "
        f"[{' '.join(str(n) for n in names)}]"
        + (
            f" or one of the init containers: [{' '.join(str(n) for n in init_names)}]"
            if init_names
            else ""
        )
    )


def _container_status(pod: dict[str, Any], container: str) -> dict[str, Any]:
    """The status of the (init) container named ``container``; empty before it has one."""
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return dict(cs)
    return {}


def _terminated(pod: dict[str, Any] | None, uid: str, container: str) -> bool:
    if pod is None or pod["metadata"]["uid"] != uid:
        return True
    return "terminated" in (_container_status(pod, container).get("state") or {})


def _split_lines(data: bytes) -> list[bytes]:
    """Lines with their ``\\n`` (only ``\\n`` ends a line in the CRI format: a ``\\r`` of a
    progress bar does not); a last line without one stays as it is."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _render(
    lines: list[bytes], timestamps: bool, since: datetime.datetime | None, mtime_ns: int
) -> list[bytes]:
    """Strip (or keep, ``timestamps``) each line's timestamp; drop lines from before ``since``.
    A line without a timestamp counts as written at ``mtime_ns`` (the file's modification
    time, in nanoseconds since the epoch)."""
    mtime = datetime.datetime.fromtimestamp(mtime_ns / 1e9, datetime.UTC)
    out = []
    for line in lines:
        m = _TS_RE.match(line)
        if m:
            if since is not None:
                try:
                    if parse_rfc3339(m.group(1).decode()) < since:
                        continue
                except ValueError:
                    pass
            out.append(line if timestamps else line[m.end() :])
        else:
            if since is not None and mtime < since:
                continue
            if timestamps:
                out.append(log_timestamp(mtime_ns) + b" " + line)
            else:
                out.append(line)
    return out


def _restart_count(pod: dict[str, Any], container: str) -> int:
    """How often the container restarted, 0 unless a previous run terminated."""
    cs = _container_status(pod, container)
    if "terminated" in (cs.get("lastState") or {}):
        return int(cs.get("restartCount") or 0)
    return 0


def _read_previous(path: Path, pod: dict[str, Any], container: str) -> bytes:
    """The output of the container's run before its current one (restartCount - 1)."""
    run = _restart_count(pod, container) - 1
    try:
        starts = [int(n) for n in container_runs_path(path).read_text().split()]
    except (OSError, ValueError):
        starts = []
    if run < 0 or run >= len(starts):
        raise bad_request(
            f'previous terminated container "{container}" in pod '
            f'"{pod["metadata"]["name"]}" not found'
        )
    with open(path, "rb") as handle:
        handle.seek(starts[run])
        if run + 1 < len(starts):
            return handle.read(max(starts[run + 1] - starts[run], 0))
        return handle.read()


@dataclass
class _Options:
    """The query parameters of a log request."""

    follow: bool
    timestamps: bool
    tail: int | None
    limit: int | None
    since: datetime.datetime | None
    previous: bool

    @classmethod
    def parse(cls, q: Mapping[str, str]) -> _Options:
        since = None
        if q.get("sinceSeconds"):
            since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
                seconds=int(q["sinceSeconds"])
            )
        elif q.get("sinceTime"):
            since = parse_rfc3339(q["sinceTime"])
        return cls(
            follow=q.get("follow", "").lower() in ("1", "true"),
            timestamps=q.get("timestamps", "").lower() in ("1", "true"),
            tail=int(q["tailLines"]) if q.get("tailLines") else None,
            limit=int(q["limitBytes"]) if q.get("limitBytes") else None,
            since=since,
            previous=q.get("previous", "").lower() in ("1", "true"),
        )


async def serve(
    request: web.Request,
    store: Store,
    state_dir: Path,
    namespace: str,
    name: str,
) -> web.StreamResponse:
    pod = store.get(("", "pods"), namespace, name)
    if pod is None:
        raise ApiError(404, f'pods "{name}" not found', "NotFound", {"name": name, "kind": "pods"})
    container = _choose_container(pod, request.query.get("container"))
    path = container_log_path(state_dir, namespace, name, container)
    if not path.exists():
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    opts = _Options.parse(request.query)
    if opts.previous:
        data = _read_previous(path, pod, container)
        opts.follow = False  # a terminated run has nothing more to say
    else:
        data = path.read_bytes()
    # A partial last line waits for its newline when following.
    complete = data if not opts.follow or data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    lines = _render(_split_lines(complete), opts.timestamps, opts.since, path.stat().st_mtime_ns)
    if opts.tail is not None:
        lines = lines[-opts.tail :] if opts.tail > 0 else []
    body = b"".join(lines)
    if opts.limit is not None:
        body = body[: opts.limit]
    if not opts.follow:
        return web.Response(body=body, content_type="text/plain")
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(body)
    with contextlib.suppress(ConnectionResetError):
        await _follow(
            request, response, store, path, pod, container, opts, len(complete), len(body)
        )
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    store: Store,
    path: Path,
    pod: dict[str, Any],
    container: str,
    opts: _Options,
    offset: int,
    sent: int,
) -> None:
    """Stream what the container appends until it terminates or its pod goes away."""
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    uid = pod["metadata"]["uid"]
    while True:
        done = _terminated(store.get(("", "pods"), namespace, name), uid, container)
        chunk = b""
        if path.exists():
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        if not done and not chunk.endswith(b"\n"):
            chunk = chunk[: chunk.rfind(b"\n") + 1]
        if chunk:
            offset += len(chunk)
            mtime_ns = path.stat().st_mtime_ns
            out = b"".join(_render(_split_lines(chunk), opts.timestamps, None, mtime_ns))
            if opts.limit is not None:
                out = out[: max(opts.limit - sent, 0)]
            sent += len(out)
            if out:
                await response.write(out)
        if done or (opts.limit is not None and sent >= opts.limit):
            return
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(_POLL)
