"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) evaluation on create and update.

For each binding whose policy exists: the request must match the policy's
``matchConstraints`` and the binding's ``matchResources`` (resource rules with operations,
groups, versions, resources incl. ``res/sub``, ``*`` and ``*/*``, scope, resourceNames; exclude
rules; namespace and object selectors), then every ``matchCondition``; then ``variables`` and
``validations`` are evaluated with ``object``, ``oldObject``, ``request`` (with ``userInfo``),
``namespaceObject``, ``authorizer``, ``variables`` and ``params`` (a ``paramRef`` by name).
A failed validation with the binding's ``Deny`` action refuses the request with the
apiserver's message; ``Warn`` adds a ``Warning`` header. An expression that errors follows the
policy's ``failurePolicy`` (default Fail). DELETE and CONNECT are not evaluated here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import cel
from .errors import ApiError
from .rbac import Authorizer, User
from .resources import Registry, ResourceType
from .selectors import match_label_selector_object
from .store import Store

GROUP = "admissionregistration.k8s.io"
POLICIES = (GROUP, "validatingadmissionpolicies")
BINDINGS = (GROUP, "validatingadmissionpolicybindings")
_REASON_CODES = {
    "Unauthorized": 401,
    "Forbidden": 403,
    "Invalid": 422,
    "RequestEntityTooLarge": 413,
}


def _listed(values: list[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in (values or []) or wanted in (values or []))


def _resource_listed(resources: list[str] | None, resource: str, sub: str) -> bool:
    for item in resources or []:
        if item == "*/*":
            return True
        if item == "*" and not sub:
            return True
        name, _, item_sub = item.partition("/")
        if name in ("*", resource) and (item_sub == sub or (item_sub == "*" and sub)):
            return True
    return False


def _rule_matches(rule: dict[str, Any], request: dict[str, Any], namespaced: bool) -> bool:
    resource = request["resource"]
    scope = rule.get("scope", "*")
    if (scope == "Cluster" and namespaced) or (scope == "Namespaced" and not namespaced):
        return False
    names = rule.get("resourceNames") or []
    return (
        _listed(rule.get("operations"), request["operation"])
        and _listed(rule.get("apiGroups"), resource["group"])
        and _listed(rule.get("apiVersions"), resource["version"])
        and _resource_listed(rule.get("resources"), resource["resource"], request["subResource"])
        and (not names or request["name"] in names)
    )


class Admission:
    """Runs the bound policies against one write."""

    def __init__(self, store: Store, registry: Registry, authorizer: Authorizer) -> None:
        self.store = store
        self.registry = registry
        self.authorizer = authorizer

    def _constraints_match(
        self,
        constraints: dict[str, Any] | None,
        request: dict[str, Any],
        obj: dict[str, Any],
        namespace_obj: dict[str, Any] | None,
        namespaced: bool,
        rules_required: bool,
    ) -> bool:
        constraints = constraints or {}
        rules = constraints.get("resourceRules")
        if rules is None and rules_required:
            return False
        if rules is not None and not any(_rule_matches(r, request, namespaced) for r in rules):
            return False
        if any(
            _rule_matches(r, request, namespaced)
            for r in constraints.get("excludeResourceRules") or []
        ):
            return False
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not match_label_selector_object(constraints.get("objectSelector") or {}, labels):
            return False
        if namespaced and namespace_obj is not None:
            ns_labels = namespace_obj["metadata"].get("labels") or {}
            return match_label_selector_object(
                constraints.get("namespaceSelector") or {}, ns_labels
            )
        return True

    def validate(
        self,
        rt: ResourceType,
        operation: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        subresource: str,
        user: User,
        dry_run: bool,
        warn: Callable[[str], None],
    ) -> None:
        """Raise the refusal of the first denying (policy, binding); collect warnings."""
        bindings = sorted(self.store.iter(BINDINGS), key=lambda b: b["metadata"]["name"])
        if not bindings:
            return
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "") if rt.namespaced else ""
        namespace_obj = self.store.get(("", "namespaces"), "", namespace) if namespace else None
        request = {
            "uid": meta.get("uid", ""),
            "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "subResource": subresource,
            "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "name": meta.get("name", ""),
            "namespace": namespace,
            "operation": operation,
            "userInfo": user.as_user_info(),
            "dryRun": dry_run,
        }
        for binding in bindings:
            spec = binding.get("spec") or {}
            policy = self.store.get(POLICIES, "", spec.get("policyName", ""))
            if policy is None:
                continue
            pspec = policy.get("spec") or {}
            if not self._constraints_match(
                pspec.get("matchConstraints"), request, obj, namespace_obj, rt.namespaced, True
            ) or not self._constraints_match(
                spec.get("matchResources"), request, obj, namespace_obj, rt.namespaced, False
            ):
                continue
            names = (policy["metadata"]["name"], binding["metadata"]["name"])
            variables = self._variables(rt, obj, old, request, namespace_obj, user, spec)
            self._evaluate(pspec, spec, variables, names, rt, meta.get("name", ""), warn)

    def _variables(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        request: dict[str, Any],
        namespace_obj: dict[str, Any] | None,
        user: User,
        binding_spec: dict[str, Any],
    ) -> dict[str, Any]:
        params = None
        ref = binding_spec.get("paramRef") or {}
        if ref.get("name"):
            params = self._params(ref)
        return {
            "object": cel.to_cel(obj, rt.schema),
            "oldObject": cel.to_cel(old, rt.schema) if old is not None else None,
            "request": cel.to_cel(request),
            "namespaceObject": cel.to_cel(namespace_obj) if namespace_obj else None,
            "params": cel.to_cel(params) if params is not None else None,
            "authorizer": cel.AuthorizerValue(self.authorizer, user),
        }

    def _params(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        for gr in self.store.resources():
            found = self.store.get(gr, ref.get("namespace", ""), ref["name"])
            if found is not None:
                return found
        return None

    def _evaluate(
        self,
        policy: dict[str, Any],
        binding: dict[str, Any],
        variables: dict[str, Any],
        names: tuple[str, str],
        rt: ResourceType,
        name: str,
        warn: Callable[[str], None],
    ) -> None:
        fail_closed = policy.get("failurePolicy", "Fail") == "Fail"
        prefix = f"ValidatingAdmissionPolicy '{names[0]}' with binding '{names[1]}'"
        actions = binding.get("validationActions") or []

        def refuse(message: str, reason: str = "Invalid") -> None:
            if "Warn" in actions:
                warn(f"Validation failed for {prefix}: {message}")
            if "Deny" in actions:
                text = f"{prefix} denied request: {message}"
                code = _REASON_CODES.get(reason, 422)
                details: dict[str, Any] = {"name": name, "group": rt.group, "kind": rt.plural}
                if code == 422:
                    details["causes"] = [{"message": text}]
                raise ApiError(code, text, reason, details)

        try:
            for condition in policy.get("matchConditions") or []:
                if not cel.evaluate_bool(condition["expression"], variables):
                    return
            computed = cel.to_cel({})  # each variable may use the ones before it
            variables["variables"] = computed
            for variable in policy.get("variables") or []:
                computed[cel.to_cel(variable["name"])] = cel.evaluate(
                    variable["expression"], variables
                )
        except cel.CelError as exc:
            if fail_closed:
                refuse(f"expression resulted in error: {exc}")
            return
        for validation in policy.get("validations") or []:
            expression = validation.get("expression", "")
            try:
                ok = cel.evaluate_bool(expression, variables)
            except cel.CelError as exc:
                if fail_closed:
                    refuse(f"expression '{expression}' resulted in error: {exc}")
                continue
            if ok:
                continue
            message = validation.get("message") or f"failed expression: {expression}"
            if validation.get("messageExpression"):
                try:
                    rendered = cel.evaluate(validation["messageExpression"], variables)
                    if isinstance(rendered, str) and rendered.strip():
                        message = str(rendered)
                except cel.CelError:
                    pass
            refuse(message, validation.get("reason") or "Invalid")
