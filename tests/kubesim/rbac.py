"""The RBAC authorizer: who may do what, from the Roles, ClusterRoles and bindings in the store.

Follows ``k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac``: ClusterRoleBindings grant
everywhere, RoleBindings in the request's namespace (to a Role there or a ClusterRole); a rule
matches on verb, API group, resource (``resource/subresource``, ``*``, ``*/subresource``),
``resourceNames`` (only when the request names an object) or ``nonResourceURLs`` (exact or a
``prefix*``). Members of ``system:masters`` are allowed everything before RBAC is consulted,
as the apiserver's privileged-group authorizer does. ClusterRole aggregation is applied on
write, as the clusterrole-aggregation controller does, so ``kubectl get`` shows the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .selectors import match_label_selector_object
from .store import Store

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLES = (RBAC_GROUP, "roles")
CLUSTER_ROLES = (RBAC_GROUP, "clusterroles")
ROLE_BINDINGS = (RBAC_GROUP, "rolebindings")
CLUSTER_ROLE_BINDINGS = (RBAC_GROUP, "clusterrolebindings")
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def as_user_info(self) -> dict[str, Any]:
        """``authentication.k8s.io/v1 UserInfo``, as in reviews and admission requests."""
        info: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


@dataclass(frozen=True)
class Attributes:
    """What one request asks for (``authorizer.Attributes``)."""

    verb: str
    resource_request: bool = True
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


def service_account_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _subject_applies(subject: Mapping[str, Any], user: User, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return service_account_username(namespace, name) == user.name
    return False


def _matches(values: Iterable[str], wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def _resource_matches(rule_resources: Iterable[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule_resources or []:
        if item in ("*", combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def _url_matches(rule_urls: Iterable[str], path: str) -> bool:
    for url in rule_urls or []:
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    if not _matches(rule.get("verbs") or [], attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attrs.path)
    names = rule.get("resourceNames") or []
    return (
        _matches(rule.get("apiGroups") or [], attrs.group)
        and _resource_matches(rule.get("resources") or [], attrs.resource, attrs.subresource)
        and (not names or attrs.name in names)
    )


class Authorizer:
    """RBAC over the live objects in a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _role_rules(self, ref: Mapping[str, Any], namespace: str) -> list[dict[str, Any]]:
        if ref.get("kind") == "ClusterRole":
            role = self.store.get(CLUSTER_ROLES, "", ref.get("name", ""))
        else:
            role = self.store.get(ROLES, namespace, ref.get("name", ""))
        return list((role or {}).get("rules") or [])

    def rules_for(self, user: User, namespace: str) -> Iterator[dict[str, Any]]:
        """Every rule that applies to ``user`` in ``namespace`` ("" = cluster-wide only)."""
        for binding in self.store.iter(CLUSTER_ROLE_BINDINGS):
            if any(_subject_applies(s, user, "") for s in binding.get("subjects") or []):
                yield from self._role_rules(binding.get("roleRef") or {}, "")
        if namespace:
            for binding in self.store.iter(ROLE_BINDINGS, namespace):
                if any(_subject_applies(s, user, namespace) for s in binding.get("subjects") or []):
                    yield from self._role_rules(binding.get("roleRef") or {}, namespace)

    def allowed(self, user: User, attrs: Attributes) -> bool:
        if MASTERS in user.groups:
            return True
        return any(rule_allows(rule, attrs) for rule in self.rules_for(user, attrs.namespace))

    def check(self, user: User, attrs: Attributes) -> None:
        """Raise the apiserver's 403 when ``user`` may not do ``attrs``."""
        if not self.allowed(user, attrs):
            raise forbidden(user, attrs)


def forbidden(user: User, attrs: Attributes) -> ApiError:
    """The apiserver's 403 (``responsewriters.Forbidden`` + ``forbiddenMessage``)."""
    if not attrs.resource_request:
        return ApiError(
            403, f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"', None, {}
        )
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    why = (
        f'User "{user.name}" cannot {attrs.verb} resource "{resource}" '
        f'in API group "{attrs.group}" {where}'
    )
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details: dict[str, Any] = {"group": attrs.group, "kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    return ApiError(403, f"{subject} is forbidden: {why}", "Forbidden", details)


# ---- ClusterRole aggregation ------------------------------------------------------------------


def aggregated_rules(store: Store, role: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The rules an aggregated ClusterRole should hold now, or None if it aggregates nothing."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors")
    if not selectors:
        return None
    rules: list[dict[str, Any]] = []
    own = role["metadata"]["name"]
    for other in sorted(store.iter(CLUSTER_ROLES), key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == own:
            continue
        labels = other["metadata"].get("labels") or {}
        if any(match_label_selector_object(s, labels) for s in selectors):
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


# ---- what a fresh cluster has -------------------------------------------------------------------

_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def _cluster_role(name: str, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults", **extra.pop("labels", {})}
    return {"metadata": {"name": name, "labels": labels}, "rules": rules, **extra}


def _binding(name: str, role: str, group: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group}],
    }


def _aggregating(name: str, into: str | None) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "aggregationRule": {
            "clusterRoleSelectors": [{"matchLabels": {f"{_AGGREGATE}{name}": "true"}}]
        }
    }
    if into:
        extra["labels"] = {f"{_AGGREGATE}{into}": "true"}
    return _cluster_role(name, [], **extra)


def bootstrap_policy() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ClusterRoles, ClusterRoleBindings) the apiserver creates at start, the subset tests meet:
    cluster-admin, the aggregated admin/edit/view, discovery and self-review for everyone."""
    review = {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        "verbs": ["create"],
    }
    whoami = {
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
        "verbs": ["create"],
    }
    discovery_urls = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version",
                      "/version/", "/healthz", "/livez", "/readyz"]  # fmt: skip
    roles = [
        _cluster_role(
            "cluster-admin",
            [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        ),
        _aggregating("admin", None),
        _aggregating("edit", "admin"),
        _aggregating("view", "edit"),
        _cluster_role("system:discovery", [{"nonResourceURLs": discovery_urls, "verbs": ["get"]}]),
        _cluster_role("system:basic-user", [review, whoami]),
    ]
    bindings = [
        _binding("system:discovery", "system:discovery", AUTHENTICATED),
        _binding("system:basic-user", "system:basic-user", AUTHENTICATED),
    ]
    return roles, bindings
