"""What the operator really calls, checked against the chart's RBAC; and its real TuningJob
objects judged as Argo CD (docs/gitops/tuningjob-health.lua) and Flux (kstatus) would.

A representative scenario runs the unmodified operator against the emulator: a TuningJob that
completes (with a failed ConfigMap write on the way), one that cannot be scheduled and fails, one
with an invalid spec, an operator SIGKILL and restart, and deletions. Every request the operator
(kopf and its own client) sends is recorded by the emulator and must be permitted by the
rendered ClusterRole, or by the Roles in namespaced mode; every rule the chart grants must be
used or be listed below with the reason it is not exercised here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.operator.harness import (
    CRD,
    LEASE_NAMESPACE,
    Cluster,
    OperatorProcess,
    eventually,
    tuningjob,
)
from tests.kubesim.harness import KubeSim

from .support import (
    Access,
    argocd_health,
    denied,
    kstatus,
    of_kind,
    operator_accesses,
    render,
    rule_grants,
    unknown_agents,
)

# Granted but not sent in this scenario, each for a reason.
NOT_EXERCISED = {
    # blockOwnerDeletion needs it only where OwnerReferencesPermissionEnforcement is on; the
    # emulator, like kind, does not enforce it.
    ("update", "kubetune.io", "tuningjobs/finalizers"): "admission plugin not emulated",
    # Read only for TuningJobs with Prometheus auth (bearerTokenSecret / caSecret), which needs a
    # Prometheus; rbac.secrets=false drops it.
    ("get", "", "secrets"): "Prometheus auth not in this scenario",
}
GPU_POD = {
    "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
}


def with_namespace(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    manifest["metadata"]["namespace"] = namespace
    return manifest


class Scenario:
    def __init__(self, sim: KubeSim, cluster: Cluster, operator: OperatorProcess) -> None:
        self.sim, self.cluster, self.operator = sim, cluster, operator
        self.objects: dict[str, dict[str, Any]] = {}

    def capture(self, label: str, name: str, namespace: str) -> None:
        self.objects[label] = self.cluster.tuningjob(name, namespace)

    def holding(self, name: str, type_: str, namespace: str) -> dict[str, Any] | None:
        """The TuningJob, if condition ``type_`` is True in it (one read: no race)."""
        obj = self.cluster.tuningjob(name, namespace)
        conditions = (obj.get("status") or {}).get("conditions") or []
        return (
            obj if any(c["type"] == type_ and c["status"] == "True" for c in conditions) else None
        )

    def run(self, namespace: str, full: bool) -> None:
        cluster = self.cluster
        # Fresh, before the operator has written a status (operator stopped to be sure).
        self.operator.stop()
        cluster.apply(with_namespace(tuningjob("done", max_trials=3, mode="slow"), namespace))
        self.capture("applied", "done", namespace)
        # A journal write that conflicts: the operator reads the ConfigMap back to see if it
        # landed anyway.
        self.sim.faults(verb="patch", resource="configmaps", status=409, count=1)
        self.operator.start()
        self.objects["running"] = eventually(
            lambda: self.holding("done", "Running", namespace), message="done is Running"
        )
        if full:
            self.operator.kill()
            self.operator.start()
        cluster.wait_condition("done", "Complete", namespace=namespace)
        self.capture("complete", "done", namespace)
        if full:
            stuck = tuningjob(
                "stuck",
                max_trials=2,
                parallel=1,
                pod_spec=GPU_POD,
                container={"resources": {"limits": {"nvidia.com/gpu": 1}}},
                limits={"pendingTimeout": "2s", "maxFailedTrials": 0},
            )
            cluster.apply(with_namespace(stuck, namespace))
            cluster.wait_condition("stuck", "Failed", namespace=namespace)
            self.capture("failed", "stuck", namespace)
            invalid = tuningjob("invalid", limits={"maxTrials": 0})
            cluster.apply(with_namespace(invalid, namespace), check=False)
            # A regex Python cannot compile: past the CRD, refused by the operator.
            definitions = [
                {"name": "loss", "regex": "loss=(["},
                {"name": "accuracy", "regex": "accuracy=([0-9.]+)"},
            ]
            bad = tuningjob("invalid", spec={"metrics": {"format": "regex",
                                                         "definitions": definitions}})  # fmt: skip
            cluster.apply(with_namespace(bad, namespace))
            cluster.wait_condition("invalid", "Failed", namespace=namespace)
            self.capture("invalid", "invalid", namespace)
        for name in ("done", "stuck", "invalid") if full else ("done",):
            cluster.kubectl("delete", "tj", name, "-n", namespace, "--wait=true")
        eventually(
            lambda: (
                not cluster.core.list_namespaced_config_map(
                    namespace, label_selector="kubetune.io/tuningjob"
                ).items
            ),
            message="study ConfigMaps deleted",
        )


def run_scenario(
    tmp: Path, binaries: dict[str, Path], namespace: str, full: bool, *watch: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The scenario with the operator as the chart's ServiceAccount under the chart's RBAC
    (namespaced Roles when ``watch`` names namespaces), enforced by the emulator."""
    kubectl = binaries["kubectl"]
    with KubeSim(controllers=True, work_dir=tmp / "kubesim") as sim:
        cluster = Cluster(sim, kubectl)
        cluster.kubectl("apply", "-f", str(CRD))
        cluster.kubectl("wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io")
        for ns in {namespace, "team-b"} - {"default"}:
            cluster.kubectl("create", "namespace", ns)
        args = [a for ns in watch for a in ("--namespace", ns)]
        values = {"watchNamespaces": list(watch)} if watch else {}
        cluster.install_operator_rbac(binaries["helm"], values)
        operator = OperatorProcess(sim, tmp, *args).start()
        scenario = Scenario(sim, cluster, operator)
        try:
            scenario.run(namespace, full)
        finally:
            operator.stop()
        return sim.requests(), scenario.objects


@pytest.fixture(scope="module")
def clusterwide(
    tmp_path_factory: pytest.TempPathFactory, kube_binaries: dict[str, Path]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("clusterwide")
    return run_scenario(tmp, kube_binaries, "ml", True)


def test_clusterwide_rbac_permits_every_call_and_grants_nothing_unused(
    clusterwide: tuple[list[dict[str, Any]], dict[str, Any]], helm: Path
) -> None:
    log, _ = clusterwide
    assert not unknown_agents(log), "classify these user agents in support.py"
    accesses = operator_accesses(log)
    assert {a.resource for a in accesses} >= {"tuningjobs", "jobs", "pods", "configmaps"}
    objects = render(helm)
    missing = denied(objects, accesses)
    assert not missing, (
        "the operator called what the chart's RBAC does not permit; add it to "
        "charts/kubetune/templates/_helpers.tpl:\n" + "\n".join(map(str, missing))
    )
    (role,) = [r for r in of_kind(objects, "ClusterRole") if r["metadata"]["name"] == "kubetune"]
    used = {(a.verb, a.group, a.resource) for a in accesses}
    unused = rule_grants(role["rules"]) - used - set(NOT_EXERCISED)
    assert not unused, f"granted but never used (least privilege): {sorted(unused)}"
    # The read-back after the injected failure, the stop of an unschedulable trial, cleanup.
    assert {
        ("get", "", "configmaps"),
        ("delete", "batch", "jobs"),
        ("deletecollection", "", "configmaps"),
        ("create", "", "events"),
    } <= used


def test_namespaced_rbac_permits_every_call(
    tmp_path: Path, kube_binaries: dict[str, Path], helm: Path
) -> None:
    log, _ = run_scenario(tmp_path, kube_binaries, "team-a", False, "team-a", "team-b")
    accesses = operator_accesses(log)
    objects = render(helm, {"watchNamespaces": ["team-a", "team-b"]})
    missing = denied(objects, accesses)
    assert not missing, "\n".join(map(str, missing))
    touched = {a.namespace for a in accesses if a.resource != "leases"}
    assert touched <= {"team-a", "team-b", ""}, touched
    # The Lease that elects the operator lives where the chart installs it, nowhere else.
    assert {a.namespace for a in accesses if a.resource == "leases"} == {LEASE_NAMESPACE}
    cluster_wide = {a for a in accesses if not a.namespace}
    assert {(a.group, a.resource) for a in cluster_wide} <= {
        ("", "namespaces"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    }, sorted(cluster_wide)
    # Without the discovery ClusterRole these would be refused; kopf then assumes the namespaces.
    strict = render(helm, {"watchNamespaces": ["team-a", "team-b"], "rbac.discovery": False})
    assert set(denied(strict, accesses)) == cluster_wide
    assert Access("watch", "batch", "jobs", "team-a") in accesses


@pytest.mark.parametrize(
    ("label", "argocd", "flux"),
    [
        ("applied", "Progressing", "Current"),  # kstatus: no status yet counts as Current
        ("running", "Progressing", "InProgress"),
        ("complete", "Healthy", "Current"),
        ("failed", "Degraded", "Failed"),
        ("invalid", "Degraded", "Failed"),
    ],
)
def test_gitops_health_of_real_status_objects(
    clusterwide: tuple[list[dict[str, Any]], dict[str, dict[str, Any]]],
    label: str,
    argocd: str,
    flux: str,
) -> None:
    _, objects = clusterwide
    obj = objects[label]
    health = argocd_health(obj)
    assert health["status"] == argocd, (health, obj.get("status"))
    assert kstatus(obj) == flux, obj.get("status")
    if label == "complete":
        assert health["message"].startswith("MaxTrialsReached")
    if label == "failed":
        assert "PendingTimeout" in health["message"] or "MaxFailedTrials" in health["message"]
    if label == "running":
        assert "trials running" in health["message"]
