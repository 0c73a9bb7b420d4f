"""``GET pods/{name}/log``: serve the file the kubelet writes at ``container_log_path``.

Lines may carry a leading RFC 3339 timestamp followed by one space (the CRI log format); when
they do, ``timestamps`` and ``sinceSeconds`` work per line. Plain lines are served as they are
(``sinceSeconds`` then filters on the file's modification time). ``follow`` polls the file and
ends once the container's status shows ``state.terminated`` or the pod is gone.
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
from .logs import container_log_path
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


def _terminated(pod: dict[str, Any] | None, uid: str, container: str) -> bool:
    if pod is None or pod["metadata"]["uid"] != uid:
        return True
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container and "terminated" in (cs.get("state") or {}):
                return True
    return False


def _split_lines(data: bytes) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    return lines


def _render(
    lines: list[bytes], timestamps: bool, since: datetime.datetime | None, mtime: datetime.datetime
) -> list[bytes]:
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
                out.append(mtime.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode() + b" " + line)
            else:
                out.append(line)
    return out


@dataclass
class _Options:
    """The query parameters of a log request."""

    follow: bool
    timestamps: bool
    tail: int | None
    limit: int | None
    since: datetime.datetime | None

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
        )


def _mtime(path: Path) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)


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
    data = path.read_bytes()
    # A partial last line waits for its newline when following.
    complete = data if not opts.follow or data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    lines = _render(_split_lines(complete), opts.timestamps, opts.since, _mtime(path))
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
            out = b"".join(_render(_split_lines(chunk), opts.timestamps, None, _mtime(path)))
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
