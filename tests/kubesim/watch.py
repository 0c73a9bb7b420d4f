"""Watch streams: newline-delimited JSON events over a chunked HTTP response.

The initial state (synthetic ADDED events, or the history after the requested
resourceVersion) is computed and the watcher subscribed in the same event-loop step, so no
write can fall between them. Resuming from a compacted resourceVersion yields one ERROR event
carrying a 410 ``Status`` (HTTP status stays 200, exactly like the apiserver).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .errors import bad_request, status_body
from .resources import ResourceType
from .store import Event, Store, TooOld, Watcher

log = logging.getLogger(__name__)

Render = Callable[[dict[str, Any], bool], dict[str, Any]]

_DISCONNECT_POLL = 1.0


class WatchSettings:
    """Tunables the CLI sets (bookmark cadence is minutes in Kubernetes, seconds here)."""

    bookmark_interval: float = 2.0
    default_timeout: float = 1800.0


def _initial_events(
    store: Store,
    watcher: Watcher,
    rv_param: str | None,
    snapshot: Callable[[], list[dict[str, Any]]],
) -> list[Event]:
    if not rv_param or rv_param == "0":
        return [
            Event("ADDED", obj, None, int(obj["metadata"]["resourceVersion"])) for obj in snapshot()
        ]
    try:
        since = int(rv_param)
    except ValueError:
        raise bad_request(f"invalid resource version: {rv_param!r}") from None
    events = []
    for event in store.events_since(watcher.group_resource, since):
        translated = watcher.translate(event)
        if translated is not None:
            events.append(translated)
    return events


async def serve(
    request: web.Request,
    store: Store,
    rt: ResourceType,
    watcher: Watcher,
    query: dict[str, str],
    snapshot: Callable[[], list[dict[str, Any]]],
    render: Render,
    log_entry: dict[str, Any] | None = None,
) -> web.StreamResponse:
    """Run one watch until timeout, client disconnect, or a fault-injected drop."""
    # WatchList (kubectl >= 1.32): the current state as ADDED events, then a bookmark that
    # marks the end of the initial events.
    send_initial = (query.get("sendInitialEvents") or "").lower() == "true"
    snapshot_rv = store.rv  # the state the initial events show, before any await
    try:
        rv_param = None if send_initial else query.get("resourceVersion")
        initial = _initial_events(store, watcher, rv_param, snapshot)
        too_old: TooOld | None = None
    except TooOld as exc:
        initial, too_old = [], exc
    if too_old is None:
        store.subscribe(watcher)
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
    )
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if log_entry is not None:
            log_entry["code"] = 200
        if too_old is not None:
            status = status_body(
                410, f"too old resource version: {too_old.requested} ({too_old.oldest})", "Expired"
            )
            await response.write(json.dumps({"type": "ERROR", "object": status}).encode() + b"\n")
            return response
        first = True
        for event in initial:
            await response.write(_encode(event, render, first))
            first = False
        if send_initial:
            mark = {
                "type": "BOOKMARK",
                "object": {
                    "kind": rt.kind,
                    "apiVersion": rt.api_version,
                    "metadata": {
                        "resourceVersion": str(snapshot_rv),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                },
            }
            await response.write(json.dumps(mark).encode() + b"\n")
        await _pump(request, response, store, rt, watcher, query, render, first)
    except ConnectionResetError:
        pass  # the client went away; CancelledError (server shutdown) propagates
    finally:
        store.unsubscribe(watcher)
    return response


def _encode(event: Event, render: Render, first: bool) -> bytes:
    return (
        json.dumps(
            {"type": event.type, "object": render(event.obj, first)}, separators=(",", ":")
        ).encode()
        + b"\n"
    )


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    store: Store,
    rt: ResourceType,
    watcher: Watcher,
    query: dict[str, str],
    render: Render,
    first: bool,
) -> None:
    timeout = float(query.get("timeoutSeconds") or WatchSettings.default_timeout)
    deadline = time.monotonic() + timeout
    bookmarks = (query.get("allowWatchBookmarks") or "").lower() in ("1", "true")
    interval = WatchSettings.bookmark_interval
    next_bookmark = time.monotonic() + interval
    while True:
        now = time.monotonic()
        if now >= deadline:
            return
        wait = min(deadline - now, _DISCONNECT_POLL)
        if bookmarks:
            wait = min(wait, max(next_bookmark - now, 0))
        try:
            event = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return
            if bookmarks and time.monotonic() >= next_bookmark:
                next_bookmark = time.monotonic() + interval
                mark = {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": rt.kind,
                        "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(store.rv)},
                    },
                }
                await response.write(json.dumps(mark).encode() + b"\n")
            continue
        if event is None:
            if watcher.tags.get("abort") == "true" and request.transport is not None:
                request.transport.close()
            return
        await response.write(_encode(event, render, first))
        first = False
