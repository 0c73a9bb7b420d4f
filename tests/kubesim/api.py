"""The API verbs (create/get/list/update/patch/delete/bind) with apiserver semantics.

This module is transport-free: the HTTP layer parses requests into calls here and renders the
results, so the same rules (resourceVersion checks, status subresource, generation, finalizers,
validation, defaulting) apply whichever endpoint or patch type reached them.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import contextvars
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import (
    admission,
    authn,
    cel_validation,
    crds,
    defaulting,
    garbage_collection,
    metadata_validation,
    patching,
    rbac,
    schema_validation,
)
from .errors import ApiError, already_exists, bad_request, conflict, invalid, not_found
from .objects import (
    deep_copy,
    generated_name,
    meta,
    new_uid,
    now_rfc3339,
    parse_rfc3339,
    spec_part,
)
from .resources import Registry, ResourceType
from .selectors import Selector, combine, exact_field_value, field_selector, label_selector
from .store import Store

log = logging.getLogger(__name__)

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAMESPACES = ("", "namespaces")
_PODS = ("", "pods")
_STATUS_KEPT_ON_CREATE = {("", "nodes")}
_UNDELETABLE_NAMESPACES = {"default", "kube-system", "kube-public"}
_REQUEST: contextvars.ContextVar[tuple[str, list[str]]] = contextvars.ContextVar(
    "kubesim_request", default=("Ignore", [])
)


def _terminating_pod_stopped(pod: dict[str, Any]) -> bool:
    """A pod being deleted (no finalizers left) whose status shows nothing running any more."""
    m = pod["metadata"]
    if not m.get("deletionTimestamp") or m.get("finalizers"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and all("terminated" in (c.get("state") or {}) for c in statuses)


@dataclass
class DeleteOptions:
    propagation: str | None = None
    grace_period: int | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def parse(cls, body: dict[str, Any] | None, query: dict[str, str]) -> DeleteOptions:
        body = body or {}
        propagation = body.get("propagationPolicy") or query.get("propagationPolicy")
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        if propagation is None and orphan is not None:
            propagation = "Orphan" if str(orphan).lower() == "true" else "Background"
        if propagation is not None and propagation not in ("Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                f'Unsupported value: "{propagation}": supported values: '
                '"Foreground", "Background", "Orphan", "nil"',
                "Invalid",
            )
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        pre = body.get("preconditions") or {}
        dry = body.get("dryRun") or query.get("dryRun")
        return cls(
            propagation,
            int(grace) if grace is not None else None,
            pre.get("uid"),
            pre.get("resourceVersion"),
            bool(dry),
        )


class Api:
    """All objects plus the rules for changing them."""

    def __init__(
        self,
        store: Store | None = None,
        registry: Registry | None = None,
        signing_key: bytes | None = None,
    ) -> None:
        self.store = store or Store()
        self.registry = registry or Registry()
        self._service_counter = 0
        self._grace_timers: dict[str, asyncio.TimerHandle] = {}
        self.gc = garbage_collection.GarbageCollector(self)
        self.authorizer = rbac.Authorizer(self.store)
        self.authenticator = authn.Authenticator(self.store, self.authorizer, signing_key)
        self.admission = admission.Admission(self.store, self.registry, self.authorizer)

    # ---- lookups ---------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(rt.group_resource, namespace if rt.namespaced else "", name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return obj

    def selector(self, label: str | None, field: str | None) -> Selector | None:
        return combine(label_selector(label), field_selector(field))

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        label: str | None = None,
        field: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str, str | None]:
        """Items sorted by namespace/name (as etcd keys are), the list resourceVersion and the
        next continue token when ``limit`` cut the list short."""
        predicate = self.selector(label, field)
        pinned = exact_field_value(field, "metadata.name")
        ns = namespace if rt.namespaced else None
        if pinned is not None and ns is not None:
            one = self.store.get(rt.group_resource, ns, pinned)
            candidates = [one] if one is not None else []
        else:
            candidates = list(self.store.iter(rt.group_resource, ns))
        items = [o for o in candidates if predicate is None or predicate(o)]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        rv = str(self.store.rv)
        start = None
        if continue_token:
            try:
                state = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start = (state["ns"], state["name"])
                rv = state["rv"]
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid") from None
            items = [
                o
                for o in items
                if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start
            ]
        token = None
        if limit and limit > 0 and len(items) > limit:
            items = items[:limit]
            last = items[-1]["metadata"]
            state = {"rv": rv, "ns": last.get("namespace", ""), "name": last["name"]}
            token = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        return items, rv, token

    # ---- create ----------------------------------------------------------------------------
    def create(
        self, rt: ResourceType, namespace: str | None, body: Any, dry_run: bool = False
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        obj = deep_copy(body)
        self._check_type(rt, obj)
        m = meta(obj)
        if rt.namespaced:
            ns = namespace or m.get("namespace") or "default"
            if m.get("namespace") and namespace and m["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the "
                    "namespace sent on the request"
                )
            self._require_namespace(ns, creating=True)
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
            ns = ""
        if not m.get("name"):
            if m.get("generateName"):
                m["name"] = generated_name(m["generateName"])
            else:
                raise invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "field": "metadata.name",
                            "message": "metadata.name: Required value: name or generateName "
                            "is required",
                        }
                    ],
                )
        self._validate_name(rt, m["name"])
        if self.store.get(rt.group_resource, ns, m["name"]) is not None:
            raise already_exists(rt.plural, rt.group, m["name"])
        for field in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            m.pop(field, None)
        m["uid"] = new_uid()
        m["creationTimestamp"] = now_rfc3339()
        m["generation"] = 1
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if rt.status_subresource and rt.group_resource not in _STATUS_KEPT_ON_CREATE:
            obj.pop("status", None)  # status is the controllers' business, as in Kubernetes
            if rt.from_crd is None:
                obj["status"] = {}
        self._service_counter += 1
        defaulting.default_on_create(rt, obj, self._service_counter)
        obj = self._admit(rt, obj, None)
        self._validating_admission(rt, "CREATE", obj, None, "", dry_run)
        obj = {
            "apiVersion": rt.api_version,
            "kind": rt.kind,
            **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
        }
        if dry_run:
            m["resourceVersion"] = str(self.store.rv)
            return obj
        stored = self.store.put(rt.group_resource, obj, "ADDED")
        self._after_write(rt, None, stored)
        return stored

    # ---- update / patch ----------------------------------------------------------------------
    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        ns = namespace if rt.namespaced else ""
        old = self.store.get(rt.group_resource, ns, name)
        new = deep_copy(body)
        self._check_type(rt, new)
        m = meta(new)
        if m.get("name") and m["name"] != name:
            raise bad_request(
                f"the name of the object ({m['name']}) does not match the name on the URL ({name})"
            )
        if old is None:
            if subresource is None and crds.allows_create_on_update(rt):
                m["name"] = name
                return self.create(rt, ns or None, new, dry_run)
            raise not_found(rt.plural, rt.group, name)
        rv = m.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply "
                "your changes to the latest version and try again",
            )
        return self._replace(rt, old, new, subresource, dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        body: Any,
        subresource: str | None = None,
        dry_run: bool = False,
        force: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object, created?) - server-side apply creates missing objects."""
        ns = namespace if rt.namespaced else ""
        old = self.store.get(rt.group_resource, ns, name)
        builtin = rt.from_crd is None
        if patch_type == patching.STRATEGIC_PATCH and not builtin:
            raise ApiError(
                415,
                "strategic merge patch is not supported for custom resources; "
                "use merge-patch+json or json-patch+json",
                "UnsupportedMediaType",
            )
        if old is None:
            if patch_type == patching.APPLY_PATCH and subresource is None:
                if not isinstance(body, dict):
                    raise bad_request("apply patch must be an object")
                body = deep_copy(body)
                meta(body)["name"] = name
                return self.create(rt, ns or None, body, dry_run), True
            raise not_found(rt.plural, rt.group, name)
        if patch_type == patching.JSON_PATCH:
            new = patching.json_patch(old, body)
        elif not isinstance(body, dict):
            raise bad_request("the patch body must be a JSON object")
        elif patch_type == patching.MERGE_PATCH:
            new = patching.json_merge(old, body)
        elif patch_type == patching.STRATEGIC_PATCH:
            new = patching.strategic_merge(old, body)
        elif patch_type == patching.APPLY_PATCH:
            if body.get("kind") and body["kind"] != rt.kind:
                raise bad_request(f"apply patch kind {body['kind']} does not match {rt.kind}")
            new = patching.apply_patch(old, body, builtin)
        else:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted "
                f"media types include: {', '.join(patching.PATCH_TYPES)}",
                "UnsupportedMediaType",
            )
        new = deep_copy(new)
        rv = meta(new).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"] and patch_type != patching.APPLY_PATCH:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply "
                "your changes to the latest version and try again",
            )
        meta(new)["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._replace(rt, old, new, subresource, dry_run), False

    def _replace(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        old_m = old["metadata"]
        if subresource == "status":
            status = new.get("status")
            new = deep_copy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rt.status_subresource:
            if "status" in old:
                new["status"] = deep_copy(old["status"])
            else:
                new.pop("status", None)
        m = meta(new)
        # Fields the server owns: whatever the client sent is overwritten.
        for field in (
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generateName",
        ):
            if field in old_m:
                m[field] = old_m[field]
            else:
                m.pop(field, None)
        m.pop("managedFields", None)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        defaulting.default_on_update(rt, new)
        new = self._admit(rt, new, old)
        self._validating_admission(rt, "UPDATE", new, old, subresource or "", dry_run)
        tracked_old = (
            spec_part(old)
            if rt.status_subresource
            else {k: v for k, v in old.items() if k != "metadata"}
        )
        tracked_new = (
            spec_part(new)
            if rt.status_subresource
            else {k: v for k, v in new.items() if k != "metadata"}
        )
        if tracked_old != tracked_new:
            m["generation"] = old_m.get("generation", 1) + 1
        if old_m.get("deletionTimestamp"):
            added = set(m.get("finalizers") or []) - set(old_m.get("finalizers") or [])
            if added:
                raise invalid(
                    rt.kind,
                    rt.group,
                    m["name"],
                    [
                        {
                            "reason": "FieldValueForbidden",
                            "field": "metadata.finalizers",
                            "message": "metadata.finalizers: Forbidden: no new finalizers can "
                            "be added if the object is being deleted, found new finalizers "
                            + json.dumps(sorted(added)),
                        }
                    ],
                )
        m["resourceVersion"] = old_m["resourceVersion"]
        if new == old:
            return old  # no-op writes do not bump the resourceVersion, as in Kubernetes
        if dry_run:
            return new
        if (
            old_m.get("deletionTimestamp")
            and not m.get("finalizers")
            and (old_m.get("finalizers") or not old_m.get("deletionGracePeriodSeconds"))
        ):
            # The last finalizer went (or nothing waits for a grace period): the object goes.
            # A pod still within its grace period stays until its containers have stopped.
            removed = self._remove(rt, old)
            return removed
        stored = self.store.put(rt.group_resource, new, "MODIFIED")
        self._after_write(rt, old, stored)
        if rt.group_resource == _PODS and _terminating_pod_stopped(stored):
            # Stands in for the kubelet's final "DELETE gracePeriodSeconds=0" once the
            # containers of a terminating pod have stopped (a kubelet sending it gets a 404).
            return self._remove(rt, stored)
        return stored

    def bind(self, namespace: str, name: str, binding: Any) -> dict[str, Any]:
        """``POST pods/{name}/binding``: the scheduler's only way to set spec.nodeName."""
        rt = self.registry.get("", "v1", "pods")
        assert rt is not None
        if not isinstance(binding, dict):
            raise bad_request("binding must be an object")
        target = (binding.get("target") or {}).get("name")
        if not target:
            raise invalid(
                "Binding",
                "",
                name,
                [
                    {
                        "reason": "FieldValueRequired",
                        "field": "target.name",
                        "message": "target.name: Required value",
                    }
                ],
            )
        old = self.get(rt, namespace, name)
        if old["metadata"].get("deletionTimestamp"):
            raise conflict("pods", "", name, "pod is being deleted, cannot be assigned to a host")
        if old.get("spec", {}).get("nodeName"):
            raise conflict(
                "pods",
                "",
                name,
                f'pod {name} is already assigned to node "{old["spec"]["nodeName"]}"',
            )
        new = deep_copy(old)
        new["spec"]["nodeName"] = target
        status = new.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        )
        status["conditions"] = conditions
        stored = self.store.put(rt.group_resource, new, "MODIFIED")
        return stored

    # ---- delete ------------------------------------------------------------------------------
    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: DeleteOptions | None = None
    ) -> dict[str, Any]:
        """Returns the object (still present, or as last seen) - callers decide the body."""
        options = options or DeleteOptions()
        ns = namespace if rt.namespaced else ""
        obj = self.get(rt, ns, name)
        m = obj["metadata"]
        if options.precondition_uid and options.precondition_uid != m["uid"]:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                "Precondition failed: UID in precondition: "
                f"{options.precondition_uid}, UID in object meta: {m['uid']}",
            )
        if options.precondition_rv and options.precondition_rv != m["resourceVersion"]:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                "Precondition failed: ResourceVersion in "
                f"precondition: {options.precondition_rv}, ResourceVersion in object "
                f"meta: {m['resourceVersion']}",
            )
        if options.dry_run:
            return obj
        if rt.group_resource == _NAMESPACES:
            if name in _UNDELETABLE_NAMESPACES:
                raise ApiError(
                    403,
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    "Forbidden",
                )
            return self._delete_namespace(rt, obj)
        propagation = options.propagation or rt.default_propagation
        if propagation == "Orphan":
            self.gc.orphan_dependents(m["uid"])
        grace = self._grace_period(rt, obj, options)
        finalizers = list(m.get("finalizers") or [])
        if (
            propagation == "Foreground"
            and self.store.dependents(m["uid"])
            and "foregroundDeletion" not in finalizers
        ):
            finalizers.append("foregroundDeletion")
        if not finalizers and not grace:
            return self._remove(rt, obj)
        new = deep_copy(obj)
        nm = new["metadata"]
        if finalizers:
            nm["finalizers"] = finalizers
        if not nm.get("deletionTimestamp"):
            nm["deletionTimestamp"] = now_rfc3339(grace or 0)
            nm["deletionGracePeriodSeconds"] = grace or 0
        elif grace is not None and grace < nm.get("deletionGracePeriodSeconds", 0):
            nm["deletionGracePeriodSeconds"] = grace
        if grace:
            self._schedule_grace_expiry(rt, new, grace)
        stored = obj if new == obj else self.store.put(rt.group_resource, new, "MODIFIED")
        if "foregroundDeletion" in finalizers:
            self.gc.delete_dependents(m["uid"])
            stored = self.store.get(rt.group_resource, ns, name) or stored
        return stored

    def _grace_period(
        self, rt: ResourceType, obj: dict[str, Any], options: DeleteOptions
    ) -> int | None:
        """Pods on a node get a termination grace period the kubelet is expected to honour
        by deleting again with gracePeriodSeconds=0; unscheduled or finished pods go at once."""
        if rt.group_resource != _PODS:
            return None
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return None
        grace = options.grace_period
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return max(int(grace), 0) or None

    def resume(self) -> None:
        """After the store was loaded from the state directory: serve the stored CRDs again,
        keep allocating fresh cluster IPs, and give terminating pods back their grace timer."""
        for crd in list(self.store.iter(crds.CRD_RESOURCE)):
            crds.sync_registry(self, crd)
        self._service_counter = self.store.rv  # only grows: never reuses a cluster IP
        pods = self.registry.get("", "v1", "pods")
        assert pods is not None
        for pod in list(self.store.iter(_PODS)):
            m = pod["metadata"]
            if m.get("deletionTimestamp") and not m.get("finalizers"):
                left = parse_rfc3339(m["deletionTimestamp"]).timestamp() - time.time()
                self._schedule_grace_expiry(pods, pod, max(int(left), 0))

    def _schedule_grace_expiry(self, rt: ResourceType, obj: dict[str, Any], grace: int) -> None:
        """Safety net: if no kubelet finishes the deletion, remove the pod when the grace period
        ends (a real cluster would keep it Terminating until the node answers)."""
        uid = obj["metadata"]["uid"]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if uid in self._grace_timers:
            self._grace_timers.pop(uid).cancel()
        ns, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]

        def expire() -> None:
            self._grace_timers.pop(uid, None)
            current = self.store.get(rt.group_resource, ns, name)
            if (
                current is not None
                and current["metadata"]["uid"] == uid
                and not current["metadata"].get("finalizers")
            ):
                log.info("grace period of pod %s/%s expired; removing it", ns, name)
                self._remove(rt, current)

        self._grace_timers[uid] = loop.call_later(grace + 1, expire)

    def _remove(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        m = obj["metadata"]
        timer = self._grace_timers.pop(m["uid"], None)
        if timer is not None:
            timer.cancel()
        final = self.store.remove(rt.group_resource, m.get("namespace", ""), m["name"])
        if final is None:
            return obj
        self._after_remove(rt, final)
        return final

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label: str | None,
        field: str | None,
        options: DeleteOptions,
    ) -> builtins.list[dict[str, Any]]:
        items, _, _ = self.list(rt, namespace, label, field)
        deleted = []
        for item in items:
            m = item["metadata"]
            try:
                deleted.append(self.delete(rt, m.get("namespace", ""), m["name"], options))
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return deleted

    def _delete_namespace(self, rt: ResourceType, ns_obj: dict[str, Any]) -> dict[str, Any]:
        """Namespaces go Terminating, their content is deleted, then they disappear."""
        name = ns_obj["metadata"]["name"]
        if not ns_obj["metadata"].get("deletionTimestamp"):
            new = deep_copy(ns_obj)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["status"] = {"phase": "Terminating"}
            ns_obj = self.store.put(rt.group_resource, new, "MODIFIED")
        for gr in self.store.resources():
            res = self.registry.any_version(*gr)
            if res is None or not res.namespaced:
                continue
            for item in list(self.store.iter(gr, name)):
                with contextlib.suppress(ApiError):
                    self.delete(
                        res,
                        name,
                        item["metadata"]["name"],
                        DeleteOptions(propagation="Background", grace_period=0),
                    )
        return self._maybe_finish_namespace(name) or ns_obj

    def _maybe_finish_namespace(self, name: str) -> dict[str, Any] | None:
        ns_obj = self.store.get(_NAMESPACES, "", name)
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return None
        for gr in self.store.resources():
            if gr != _NAMESPACES and name in self.store.namespaces_with(gr):
                return None
        rt = self.registry.get("", "v1", "namespaces")
        assert rt is not None
        if ns_obj["metadata"].get("finalizers"):
            return ns_obj
        return self._remove(rt, ns_obj)

    # ---- hooks -------------------------------------------------------------------------------
    def _after_write(
        self, rt: ResourceType, old: dict[str, Any] | None, new: dict[str, Any]
    ) -> None:
        if rt.group_resource == rbac.CLUSTER_ROLES:
            self._aggregate_cluster_roles()
        if rt.group_resource == crds.CRD_RESOURCE:
            crds.sync_registry(self, new)
        elif rt.group_resource == _NAMESPACES and old is None:
            self._ensure_default_service_account(new["metadata"]["name"])

    def _after_remove(self, rt: ResourceType, final: dict[str, Any]) -> None:
        if rt.group_resource == rbac.CLUSTER_ROLES:
            self._aggregate_cluster_roles()
        if rt.group_resource == crds.CRD_RESOURCE:
            crds.unregister(self, final)
        self.gc.on_removed(final)
        ns = final["metadata"].get("namespace")
        if ns:
            self._maybe_finish_namespace(ns)

    def _aggregate_cluster_roles(self) -> None:
        """The clusterrole-aggregation controller: aggregated roles get their members' rules."""
        for role in list(self.store.iter(rbac.CLUSTER_ROLES)):
            rules = rbac.aggregated_rules(self.store, role)
            if rules is not None and rules != (role.get("rules") or []):
                updated = dict(deep_copy(role), rules=rules)
                self.store.put(rbac.CLUSTER_ROLES, updated, "MODIFIED")
                self._aggregate_cluster_roles()  # aggregated roles may aggregate each other
                return

    def _ensure_default_service_account(self, namespace: str) -> None:
        rt = self.registry.get("", "v1", "serviceaccounts")
        if rt is not None and self.store.get(rt.group_resource, namespace, "default") is None:
            self.create(rt, namespace, {"metadata": {"name": "default"}})

    # ---- admission -----------------------------------------------------------------------------
    def _check_type(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({rt.api_version})"
                if api_version and api_version != rt.api_version
                else f"kind {kind} does not match the resource kind {rt.kind}"
            )

    def _validate_name(self, rt: ResourceType, name: str) -> None:
        if rt.group == rbac.RBAC_GROUP:  # RBAC names only need to be valid path segments
            ok = name not in (".", "..") and not any(c in name for c in "/%")
            detail = "may not be '.' or '..' and may not contain '/' or '%'"
        elif rt.group_resource == _NAMESPACES:
            ok = len(name) <= 63 and _DNS_LABEL.fullmatch(name) is not None
            detail = (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character"
            )
        else:
            ok = len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name) is not None
            detail = (
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric "
                "character"
            )
        if not ok:
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": "metadata.name",
                        "message": f'metadata.name: Invalid value: "{name}": {detail}',
                    }
                ],
            )

    def _require_namespace(self, namespace: str, creating: bool) -> None:
        ns_obj = self.store.get(_NAMESPACES, "", namespace)
        if ns_obj is None:
            raise ApiError(
                404,
                f'namespaces "{namespace}" not found',
                "NotFound",
                {"name": namespace, "kind": "namespaces"},
            )
        if creating and ns_obj["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f"unable to create new content in namespace {namespace} because "
                "it is being terminated",
                "Forbidden",
            )

    @staticmethod
    @contextlib.contextmanager
    def request_options(field_validation: str | None) -> Iterator[builtins.list[str]]:
        """Per-request settings (a ContextVar: each aiohttp request runs in its own task);
        yields the warnings to send back as ``Warning: 299 - ...`` headers."""
        token = _REQUEST.set((field_validation or "Warn", []))
        try:
            yield _REQUEST.get()[1]
        finally:
            _REQUEST.reset(token)

    def _unknown_fields(self, rt: ResourceType, dropped: builtins.list[str]) -> None:
        """``fieldValidation``: Strict rejects pruned fields, Warn reports them, Ignore not."""
        if not dropped:
            return
        mode, warnings = _REQUEST.get()
        if mode == "Strict":
            fields = ", ".join(f'unknown field "{d}"' for d in dropped)
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                f"{rt.kind}: strict decoding error: {fields}"
            )
        if mode == "Warn":
            warnings.extend(f'unknown field "{d}"' for d in dropped)

    def _admit(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Prune/default/validate custom resources against their schema; built-in rules else."""
        name = obj["metadata"].get("name", "")
        meta_causes = metadata_validation.validate_metadata(obj["metadata"])
        if meta_causes:
            raise invalid(rt.kind, rt.group, name, meta_causes)
        if rt.schema is not None:
            dropped: builtins.list[str] = []
            obj = schema_validation.prune_and_default(obj, rt.schema, root=True, dropped=dropped)
            self._unknown_fields(rt, dropped)
            causes = schema_validation.validate(obj, rt.schema)
            if not causes:
                causes = cel_validation.validate(obj, old, rt.schema)
            if causes:
                raise invalid(rt.kind, rt.group, name, causes)
        elif rt.group_resource == crds.CRD_RESOURCE:
            causes = schema_validation.validate_crd(obj)
            for i, version in enumerate((obj.get("spec") or {}).get("versions") or []):
                schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
                if isinstance(schema, dict):
                    path = f"spec.versions[{i}].schema.openAPIV3Schema"
                    causes += cel_validation.check_schema(schema, path)
            if causes:
                raise invalid(rt.kind, rt.group, name, causes)
            crds.check_crd_update(self, obj, old)
        else:
            causes = defaulting.validate_builtin(rt, obj, old)
            if causes:
                raise invalid(rt.kind, rt.group, name, causes)
        return obj

    def _validating_admission(
        self,
        rt: ResourceType,
        operation: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        subresource: str,
        dry_run: bool,
    ) -> None:
        """ValidatingAdmissionPolicies, as the requesting user (the last admission step)."""
        _, warnings = _REQUEST.get()
        user = authn.CURRENT_USER.get()
        self.admission.validate(
            rt, operation, obj, old, subresource, user, dry_run, warnings.append
        )
