"""ownerReferences garbage collection: Background, Foreground and Orphan propagation.

Collection runs synchronously inside the write that triggered it, so a test never waits on a
collector loop; the observable order of events still matches Kubernetes: dependents go after
their owner in Background mode, before it in Foreground mode.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .objects import deep_copy

if TYPE_CHECKING:
    from .api import Api

log = logging.getLogger(__name__)


class GarbageCollector:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _dependent_objects(self, owner_uid: str) -> list[tuple[Any, dict[str, Any]]]:
        result = []
        for gr, ns, name in self.api.store.dependents(owner_uid):
            obj = self.api.store.get(gr, ns, name)
            rt = self.api.registry.any_version(*gr)
            if obj is not None and rt is not None:
                result.append((rt, obj))
        return result

    def orphan_dependents(self, owner_uid: str) -> None:
        """Orphan: strip the owner's reference from every dependent, leave them running."""
        for rt, obj in self._dependent_objects(owner_uid):
            self._drop_owner_ref(rt, obj, owner_uid)

    def _drop_owner_ref(self, rt: Any, obj: dict[str, Any], owner_uid: str) -> None:
        new = deep_copy(obj)
        refs = [
            r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        self.api.store.put(rt.group_resource, new, "MODIFIED")

    def delete_dependents(self, owner_uid: str) -> None:
        """Foreground: delete dependents now; the owner waits on its foregroundDeletion
        finalizer until those with blockOwnerDeletion are gone."""
        from .api import DeleteOptions

        for rt, obj in self._dependent_objects(owner_uid):
            m = obj["metadata"]
            if m.get("deletionTimestamp"):
                continue
            try:
                self.api.delete(
                    rt, m.get("namespace", ""), m["name"], DeleteOptions(propagation="Foreground")
                )
            except ApiError as exc:
                if exc.code != 404:
                    log.warning("foreground deletion of %s failed: %s", m["name"], exc)
        self._maybe_release_owner(owner_uid)

    def on_removed(self, final: dict[str, Any]) -> None:
        """An object left the store: collect its dependents, maybe release waiting owners."""
        from .api import DeleteOptions

        uid = final["metadata"]["uid"]
        for rt, obj in self._dependent_objects(uid):
            m = obj["metadata"]
            others = [
                r
                for r in m.get("ownerReferences") or []
                if r.get("uid") != uid and self.api.store.by_uid(r.get("uid", "")) is not None
            ]
            if others:
                self._drop_owner_ref(rt, obj, uid)
                continue
            if m.get("deletionTimestamp") and not m.get("finalizers"):
                continue
            try:
                self.api.delete(
                    rt, m.get("namespace", ""), m["name"], DeleteOptions(propagation="Background")
                )
            except ApiError as exc:
                if exc.code != 404:
                    log.warning("background deletion of %s failed: %s", m["name"], exc)
        for ref in final["metadata"].get("ownerReferences") or []:
            self._maybe_release_owner(ref.get("uid", ""))

    def _maybe_release_owner(self, owner_uid: str) -> None:
        key = self.api.store.by_uid(owner_uid)
        if key is None:
            return
        gr, ns, name = key
        owner = self.api.store.get(gr, ns, name)
        if owner is None or "foregroundDeletion" not in (owner["metadata"].get("finalizers") or []):
            return
        blocking = [
            obj
            for _, obj in self._dependent_objects(owner_uid)
            if any(
                r.get("uid") == owner_uid and r.get("blockOwnerDeletion")
                for r in obj["metadata"].get("ownerReferences") or []
            )
        ]
        if blocking:
            return
        rt = self.api.registry.any_version(*gr)
        if rt is None:
            return
        new = deep_copy(owner)
        new["metadata"]["finalizers"] = [
            f for f in new["metadata"]["finalizers"] if f != "foregroundDeletion"
        ]
        if new["metadata"]["finalizers"]:
            self.api.store.put(gr, new, "MODIFIED")
        else:
            self.api._remove(rt, owner)
