"""The table of served resource types: built-in ones plus whatever CRDs register.

Discovery, routing, validation and table printing all start from a :class:`ResourceType`, so
a custom resource registered through a CRD is indistinguishable from a built-in one to clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GroupResource = tuple[str, str]  # (group, plural); "" is the core group

STANDARD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    """One resource (one plural) served at one group/version."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=lambda: list(STANDARD_VERBS))
    status_subresource: bool = False
    scale_subresource: bool = False
    extra_subresources: list[str] = field(default_factory=list)
    schema: dict[str, Any] | None = None  # openAPIV3Schema for CRD versions
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    from_crd: str | None = None  # name of the defining CRD
    # What DELETE does to dependents when the caller names no propagationPolicy. The real
    # apiserver keeps "orphan" for a few legacy workload kinds (batch/v1 Jobs among them): only
    # kubectl asks for background explicitly. We keep that, so tests meet the real behaviour.
    default_propagation: str = "Background"

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()

    @property
    def group_resource(self) -> GroupResource:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def qualified(self) -> str:
        """``tuningjobs.kubetune.io`` / ``pods`` - the spelling used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def qualified_kind(self) -> str:
        """``TuningJob.kubetune.io`` / ``Pod`` - the spelling used in 422 messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _builtin_types() -> list[ResourceType]:
    core = [
        ResourceType(
            "",
            "v1",
            "Namespace",
            "namespaces",
            False,
            short_names=["ns"],
            verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
            status_subresource=True,
            extra_subresources=["finalize"],
        ),
        ResourceType("", "v1", "Node", "nodes", False, short_names=["no"], status_subresource=True),
        ResourceType(
            "",
            "v1",
            "Pod",
            "pods",
            True,
            short_names=["po"],
            categories=["all"],
            status_subresource=True,
            extra_subresources=["log", "binding", "eviction"],
        ),
        ResourceType("", "v1", "Binding", "bindings", True, verbs=["create"]),
        ResourceType("", "v1", "Event", "events", True, short_names=["ev"]),
        ResourceType("", "v1", "ConfigMap", "configmaps", True, short_names=["cm"]),
        ResourceType("", "v1", "Secret", "secrets", True),
        ResourceType(
            "",
            "v1",
            "Service",
            "services",
            True,
            short_names=["svc"],
            categories=["all"],
            status_subresource=True,
        ),
        ResourceType(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            True,
            short_names=["sa"],
            extra_subresources=["token"],
        ),
        ResourceType(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            True,
            short_names=["pvc"],
            status_subresource=True,
        ),
    ]
    others = [
        ResourceType(
            "batch",
            "v1",
            "Job",
            "jobs",
            True,
            categories=["all"],
            status_subresource=True,
            default_propagation="Orphan",
        ),
        ResourceType(
            "batch",
            "v1",
            "CronJob",
            "cronjobs",
            True,
            short_names=["cj"],
            categories=["all"],
            status_subresource=True,
            default_propagation="Orphan",
        ),
        ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
        ResourceType("events.k8s.io", "v1", "Event", "events", True, short_names=["ev"]),
        ResourceType(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            False,
            short_names=["crd", "crds"],
            status_subresource=True,
        ),
    ]
    # Enforced on every request (rbac.py, admission.py); reviews are answered, never stored.
    security = [
        ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
        ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
        ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
        ResourceType(
            "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False
        ),
        ResourceType(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicy",
            "validatingadmissionpolicies",
            False,
            status_subresource=True,
        ),
        ResourceType(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicyBinding",
            "validatingadmissionpolicybindings",
            False,
        ),
        *[
            ResourceType(group, "v1", kind, plural, plural.startswith("local"), verbs=["create"])
            for group, kind, plural in (
                ("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
                ("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews"),
                ("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews"),
                ("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews"),
                ("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews"),
            )
        ],
    ]
    # Stored and served so charts and manifests apply, but no controller acts on them.
    storage_only = [
        ResourceType(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            True,
            short_names=["deploy"],
            categories=["all"],
            status_subresource=True,
        ),
        ResourceType(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            True,
            short_names=["sts"],
            categories=["all"],
            status_subresource=True,
        ),
        ResourceType(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            True,
            short_names=["ds"],
            categories=["all"],
            status_subresource=True,
        ),
        ResourceType(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            True,
            short_names=["pdb"],
            status_subresource=True,
        ),
        ResourceType(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            True,
            short_names=["netpol"],
        ),
        ResourceType(
            "scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, short_names=["pc"]
        ),
    ]
    return core + others + security + storage_only


class Registry:
    """Lookup of resource types by group/version/plural, kept in registration order."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._group_versions: dict[str, list[str]] = {}
        for rt in _builtin_types():
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt
        versions = self._group_versions.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        """Forget every version registered by one CRD; returns what was removed."""
        gone = [rt for rt in self._types.values() if rt.from_crd == crd_name]
        for rt in gone:
            del self._types[(rt.group, rt.version, rt.plural)]
        for group in {rt.group for rt in gone}:
            alive = {rt.version for rt in self._types.values() if rt.group == group}
            self._group_versions[group] = [
                v for v in self._group_versions.get(group, []) if v in alive
            ]
            if not self._group_versions[group]:
                del self._group_versions[group]
        return gone

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        """The preferred (first registered) version of a resource, for GC lookups by kind."""
        for version in self._group_versions.get(group, []):
            rt = self._types.get((group, version, plural))
            if rt:
                return rt
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        return {g: list(v) for g, v in self._group_versions.items()}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and rt.version == version]

    def all(self) -> list[ResourceType]:
        return list(self._types.values())
