"""In-memory object storage with one global resourceVersion counter and watch fan-out.

Objects live in ``data[(group, plural)][namespace][name]`` so get/create/update are dict
lookups even with thousands of Jobs. Stored dicts are never mutated after they are written
(writers build a new dict), which lets watch events and history share them without copying.

Every write bumps the single counter, so resourceVersions are comparable across resources like
etcd revisions. Each resource keeps a bounded event history so a watch can resume from a
resourceVersion; resuming from before the retained window is answered with 410 Gone.

A store reloaded from its state directory (``persistence.py``) starts with an empty history and
a floor at the loaded resourceVersion, as a restarted apiserver's watch cache starts from a
list at etcd's current revision: a resume from before the restart gets 410 Gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .resources import GroupResource
from .selectors import Selector

log = logging.getLogger(__name__)

ObjectKey = tuple[GroupResource, str, str]  # (group resource, namespace, name)


@dataclass
class Event:
    """One change: ``obj`` is the object after the change (the last state for DELETED)."""

    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None
    rv: int


class TooOld(Exception):
    """The requested resourceVersion has been compacted out of the history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(eq=False)
class Watcher:
    """A subscribed watch stream: receives the events that pass its namespace and selectors.

    Filtering happens at publish time, once per event per watcher, so a watch never rescans the
    store. ``None`` in the queue tells the stream to end (fault injection, namespace drop...).
    """

    group_resource: GroupResource
    namespace: str | None
    selector: Selector | None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    tags: dict[str, str] = field(default_factory=dict)

    def _visible(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.selector is None or self.selector(obj)

    def translate(self, event: Event) -> Event | None:
        """Apply the apiserver's selector semantics: an object leaving the selection is a
        DELETED event for this watcher, one entering it is ADDED."""
        new_ok = self._visible(event.obj)
        if event.type == "DELETED":
            return event if new_ok else None
        old_ok = self._visible(event.old)
        if new_ok and (old_ok or event.type == "ADDED"):
            return event
        if new_ok and not old_ok:
            return Event("ADDED", event.obj, event.old, event.rv)
        if old_ok and not new_ok:
            return Event("DELETED", event.obj, event.old, event.rv)
        return None

    def offer(self, event: Event) -> None:
        translated = self.translate(event)
        if translated is not None:
            self.queue.put_nowait(translated)

    def close(self) -> None:
        self.queue.put_nowait(None)


class Store:
    """All objects, the resourceVersion counter, per-resource history and the indexes GC needs."""

    def __init__(self, history_size: int = 10000) -> None:
        self.rv = 0
        self.history_size = history_size
        self._data: dict[GroupResource, dict[str, dict[str, dict[str, Any]]]] = {}
        self._history: dict[GroupResource, deque[Event]] = {}
        self._compacted: dict[GroupResource, int] = {}
        self._floor = 0  # no history before this resourceVersion for any resource (restart)
        self._watchers: dict[GroupResource, set[Watcher]] = {}
        self._by_uid: dict[str, ObjectKey] = {}
        self._dependents: dict[str, set[ObjectKey]] = {}
        self.listeners: list[Callable[[GroupResource, Event], None]] = []

    # ---- reads -------------------------------------------------------------------------
    def get(self, gr: GroupResource, namespace: str, name: str) -> dict[str, Any] | None:
        return self._data.get(gr, {}).get(namespace, {}).get(name)

    def iter(self, gr: GroupResource, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        buckets = self._data.get(gr, {})
        if namespace is not None:
            yield from list(buckets.get(namespace, {}).values())
            return
        for ns in sorted(buckets):
            yield from list(buckets[ns].values())

    def count(self, gr: GroupResource) -> int:
        return sum(len(b) for b in self._data.get(gr, {}).values())

    def namespaces_with(self, gr: GroupResource) -> list[str]:
        return [ns for ns, b in self._data.get(gr, {}).items() if b]

    def resources(self) -> list[GroupResource]:
        return list(self._data)

    def by_uid(self, uid: str) -> ObjectKey | None:
        return self._by_uid.get(uid)

    def dependents(self, owner_uid: str) -> list[ObjectKey]:
        return sorted(self._dependents.get(owner_uid, ()))

    # ---- loading (restart from the state directory) ------------------------------------------
    def restore(self, gr: GroupResource, obj: dict[str, Any]) -> None:
        """Put back an object read from disk: no new resourceVersion, no event."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        bucket = self._data.setdefault(gr, {}).setdefault(ns, {})
        old = bucket.get(meta["name"])
        bucket[meta["name"]] = obj
        key = (gr, ns, meta["name"])
        if old is not None:
            self._by_uid.pop(old["metadata"]["uid"], None)
        self._by_uid[meta["uid"]] = key
        self._reindex_owners(key, old, obj)

    def forget(self, gr: GroupResource, namespace: str, name: str) -> None:
        """Drop an object while replaying a deletion from disk: no new resourceVersion."""
        old = self._data.get(gr, {}).get(namespace, {}).pop(name, None)
        if old is not None:
            self._by_uid.pop(old["metadata"]["uid"], None)
            self._reindex_owners((gr, namespace, name), old, None)

    def resume_at(self, rv: int) -> None:
        """Continue the resourceVersion sequence from ``rv`` with no history before it."""
        self.rv = max(self.rv, rv)
        self._floor = self.rv

    # ---- writes ------------------------------------------------------------------------
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, gr: GroupResource, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        """Store ``obj`` (ADDED or MODIFIED) under a fresh resourceVersion and publish it."""
        meta = obj["metadata"]
        rv = self.next_rv()
        meta["resourceVersion"] = str(rv)
        ns = meta.get("namespace", "")
        bucket = self._data.setdefault(gr, {}).setdefault(ns, {})
        old = bucket.get(meta["name"])
        bucket[meta["name"]] = obj
        key = (gr, ns, meta["name"])
        self._by_uid[meta["uid"]] = key
        self._reindex_owners(key, old, obj)
        self._publish(gr, Event(event_type, obj, old, rv))
        return obj

    def remove(self, gr: GroupResource, namespace: str, name: str) -> dict[str, Any] | None:
        """Drop an object; its DELETED event carries a new resourceVersion as in Kubernetes."""
        bucket = self._data.get(gr, {}).get(namespace, {})
        old = bucket.pop(name, None)
        if old is None:
            return None
        rv = self.next_rv()
        final = dict(old)
        final["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
        self._by_uid.pop(old["metadata"]["uid"], None)
        self._reindex_owners((gr, namespace, name), old, None)
        self._publish(gr, Event("DELETED", final, old, rv))
        return final

    def _reindex_owners(
        self, key: ObjectKey, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        def owner_uids(o: dict[str, Any] | None) -> set[str]:
            if o is None:
                return set()
            return {r.get("uid", "") for r in o["metadata"].get("ownerReferences") or []}

        before, after = owner_uids(old), owner_uids(new)
        for uid in before - after:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[uid]
        for uid in after - before:
            self._dependents.setdefault(uid, set()).add(key)

    # ---- events and watches --------------------------------------------------------------
    def _publish(self, gr: GroupResource, event: Event) -> None:
        history = self._history.get(gr)
        if history is None:
            history = self._history[gr] = deque()
        if len(history) >= self.history_size:
            self._compacted[gr] = history.popleft().rv
        history.append(event)
        for watcher in list(self._watchers.get(gr, ())):
            watcher.offer(event)
        for listener in self.listeners:
            listener(gr, event)

    def events_since(self, gr: GroupResource, rv: int) -> list[Event]:
        """Events after ``rv`` for a resuming watch; raises :class:`TooOld` past the window."""
        compacted = max(self._compacted.get(gr, 0), self._floor)
        if rv < compacted:
            raise TooOld(rv, compacted + 1)
        return [e for e in self._history.get(gr, ()) if e.rv > rv]

    def compact(self) -> None:
        """Forget all history (fault injection: makes every resume older than now 410)."""
        for gr, history in self._history.items():
            if history:
                self._compacted[gr] = history[-1].rv
            history.clear()
        for gr in list(self._data):
            self._compacted[gr] = self.rv

    def subscribe(self, watcher: Watcher) -> None:
        self._watchers.setdefault(watcher.group_resource, set()).add(watcher)

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.group_resource, set()).discard(watcher)

    def watchers(self) -> list[Watcher]:
        return [w for ws in self._watchers.values() for w in ws]
