"""Render the Helm chart and reason about what it grants: RBAC checks, kstatus and Argo CD health.

* ``render(helm, values, api_versions)``: ``helm template`` output as a list of objects.
* ``kubectl(binary, kubeconfig, *args)``: run kubectl against a cluster (the emulator).
* ``Access`` / ``operator_accesses``: what the operator (kopf and its own client) asked the
  emulated API server for, from kubesim's request log.
* ``denied(objects, accesses)``: the accesses the rendered RBAC does not permit.
* ``kstatus``: a port of the rules Flux, kpt and cli-utils apply to custom resources.
* ``argocd_health``: runs ``docs/gitops/tuningjob-health.lua`` as Argo CD does (Lua 5.1).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART = REPO_ROOT / "charts" / "kubetune"
ARGOCD_HEALTH_LUA = REPO_ROOT / "docs" / "gitops" / "tuningjob-health.lua"
RELEASE = "kubetune"
RELEASE_NAMESPACE = "kubetune"
SERVICE_ACCOUNT = "kubetune"

# The user agents in the request log: the operator's own, and everyone else's.
OPERATOR_AGENTS = ("kubetune", "kopf/")
OTHER_AGENTS = (
    "kubesim-controller/",
    "kubectl/",
    "kubectl-tune/",
    "OpenAPI-Generator/",
    "Helm/",
    "helm/",
)


def helm_run(helm: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def set_flags(values: Mapping[str, Any]) -> list[str]:
    """``--set-json key=value`` for each dotted key."""
    flags = []
    for key, value in values.items():
        flags += ["--set-json", f"{key}={json.dumps(value)}"]
    return flags


def render(
    helm: Path, values: Mapping[str, Any] | None = None, api_versions: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """``api_versions``: what the cluster would serve beyond the built-in APIs (--api-versions)."""
    result = helm_run(
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        RELEASE_NAMESPACE,
        "--include-crds",
        *set_flags(values or {}),
        *[flag for api in api_versions for flag in ("--api-versions", api)],
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def kubectl(
    binary: Path,
    kubeconfig: Path,
    *args: str,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``kubectl --kubeconfig kubeconfig args`` from the repository root; with ``check``, a
    failure fails the test with kubectl's output."""
    result = subprocess.run(
        [str(binary), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass(frozen=True, order=True)
class Access:
    """One kind of request: verb on group/resource[/subresource], in a namespace or cluster-wide."""

    verb: str
    group: str
    resource: str  # with "/subresource" when there is one
    namespace: str  # "" for cluster-scoped and all-namespaces requests

    def __str__(self) -> str:
        where = f"in {self.namespace}" if self.namespace else "cluster-wide"
        return f"{self.verb} {self.group or 'core'}/{self.resource} {where}"


def is_operator(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("userAgent") or "").startswith(OPERATOR_AGENTS)


def unknown_agents(log: Iterable[Mapping[str, Any]]) -> set[str]:
    """Agents neither the operator's nor a known test client's: each must be classified."""
    return {
        agent
        for entry in log
        if not (agent := str(entry.get("userAgent") or "")).startswith(
            OPERATOR_AGENTS + OTHER_AGENTS
        )
    }


def operator_accesses(log: Iterable[Mapping[str, Any]]) -> set[Access]:
    """Resource requests by the operator (discovery GETs of /api, /apis are not resources)."""
    accesses = set()
    for entry in log:
        if not is_operator(entry) or not entry.get("resource"):
            continue
        resource = entry["resource"]
        if entry.get("subresource"):
            resource += "/" + entry["subresource"]
        accesses.add(
            Access(
                entry["verb"], entry.get("apiGroup") or "", resource, entry.get("namespace") or ""
            )
        )
    return accesses


def _permits(rules: Sequence[Mapping[str, Any]], access: Access) -> bool:
    return any(
        access.group in rule.get("apiGroups", [])
        and access.resource in rule.get("resources", [])
        and access.verb in rule.get("verbs", [])
        and not rule.get("resourceNames")
        for rule in rules
    )


def _binds_operator(binding: Mapping[str, Any]) -> bool:
    return any(
        s.get("kind") == "ServiceAccount"
        and s.get("name") == SERVICE_ACCOUNT
        and s.get("namespace") == RELEASE_NAMESPACE
        for s in binding.get("subjects") or []
    )


def granted_rules(objects: Sequence[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Every rule the operator's ServiceAccount holds in ``namespace`` ("" = cluster-wide)."""
    cluster_roles = {r["metadata"]["name"]: r for r in of_kind(objects, "ClusterRole")}
    roles = {
        (r["metadata"]["namespace"], r["metadata"]["name"]): r for r in of_kind(objects, "Role")
    }
    rules: list[dict[str, Any]] = []
    for binding in of_kind(objects, "ClusterRoleBinding"):
        if _binds_operator(binding):
            rules += cluster_roles[binding["roleRef"]["name"]].get("rules") or []
    if namespace:
        for binding in of_kind(objects, "RoleBinding"):
            if binding["metadata"]["namespace"] != namespace or not _binds_operator(binding):
                continue
            ref = binding["roleRef"]
            role = (
                cluster_roles.get(ref["name"])
                if ref["kind"] == "ClusterRole"
                else roles.get((namespace, ref["name"]))
            )
            rules += (role or {}).get("rules") or []
    return rules


def denied(objects: Sequence[dict[str, Any]], accesses: Iterable[Access]) -> list[Access]:
    return sorted(a for a in accesses if not _permits(granted_rules(objects, a.namespace), a))


def rule_grants(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(verb, group, resource) for every combination a list of rules names."""
    return {
        (verb, group, resource)
        for rule in rules
        for verb in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


# ---- GitOps health -----------------------------------------------------------------------------


def kstatus(obj: Mapping[str, Any]) -> str:
    """The status kstatus computes for a custom resource (sigs.k8s.io/cli-utils/pkg/kstatus).

    Flux's ``wait``/``healthChecks`` and kpt use it. For a kind without built-in rules:
    Terminating while deleted; InProgress while ``status.observedGeneration`` lags
    ``metadata.generation``; ``Reconciling=True`` -> InProgress; ``Stalled=True`` -> Failed;
    then a ``Ready`` condition decides (True -> Current, otherwise InProgress); with none of
    these the resource counts as Current.
    """
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status") or {}
    observed = status.get("observedGeneration")
    if observed is not None and observed != metadata.get("generation"):
        return "InProgress"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if (conditions.get("Reconciling") or {}).get("status") == "True":
        return "InProgress"
    if (conditions.get("Stalled") or {}).get("status") == "True":
        return "Failed"
    ready = conditions.get("Ready")
    if ready is not None:
        return "Current" if ready.get("status") == "True" else "InProgress"
    return "Current"


def argocd_health(obj: Mapping[str, Any]) -> dict[str, str]:
    """Run the Argo CD health check on ``obj``; Argo CD embeds gopher-lua, a Lua 5.1."""
    import lupa.lua51 as lua  # type: ignore[import-not-found,import-untyped,unused-ignore]

    runtime = lua.LuaRuntime(unpack_returned_tuples=True)

    def convert(value: Any) -> Any:
        """Nested Lua tables, as Argo CD hands the object over (lists 1-indexed)."""
        if isinstance(value, dict):
            return runtime.table_from({k: convert(v) for k, v in value.items()})
        if isinstance(value, list):
            return runtime.table_from([convert(v) for v in value])
        return value

    runtime.globals().obj = convert(json.loads(json.dumps(obj)))
    check = runtime.eval("function() " + ARGOCD_HEALTH_LUA.read_text() + " end")
    result = check()
    return {"status": str(result["status"]), "message": str(result["message"])}


_RENDERED: dict[tuple[str, str], list[dict[str, Any]]] = {}


def _render_cached(helm: Path, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    key = (str(helm), json.dumps(values, sort_keys=True))
    if key not in _RENDERED:
        _RENDERED[key] = render(helm, values)
    return _RENDERED[key]


def unpermitted_operator_calls(
    helm: Path, log: Iterable[Mapping[str, Any]], values: Mapping[str, Any] | None = None
) -> list[Access]:
    """The operator's requests that neither mode of the chart's RBAC permits.

    Cluster-wide requests and requests in a namespace are checked against the default
    (cluster-wide) install, and against a namespaced install watching every namespace the log
    shows, since a test module may run the operator either way.
    """
    accesses = operator_accesses(log)
    values = dict(values or {})
    modes = [_render_cached(helm, values)]
    namespaces = sorted({a.namespace for a in accesses if a.namespace})
    if namespaces:
        modes.append(_render_cached(helm, {**values, "watchNamespaces": namespaces}))
    return sorted(a for a in accesses if all(a in denied(objects, [a]) for objects in modes))
