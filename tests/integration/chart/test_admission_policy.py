"""The chart's ValidatingAdmissionPolicy, installed with helm on the emulator and tried with the
real kubectl as tenants would: no confused deputy (Jobs and Secrets the user could not touch
themselves), the trial pod policy and the Prometheus URL allow-list."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.operator.harness import tuningjob
from tests.kubesim.harness import KubeSim

from .support import (
    CHART,
    RELEASE,
    RELEASE_NAMESPACE,
    helm_run,
    kubectl,
    of_kind,
    render,
    set_flags,
)

TEAM = "team"
PROMETHEUS = "http://prom.monitoring:9090"
TUNINGJOB_RIGHTS = {
    "apiGroups": ["kubetune.io"],
    "resources": ["tuningjobs"],
    "verbs": ["create", "get", "list", "patch", "update"],
}
JOB_RIGHTS = {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}
BOB_SECRET = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
              "resourceNames": ["bob-token"]}  # fmt: skip


def role_for(user: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    meta = {"name": user, "namespace": TEAM}
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]},
    ]  # fmt: skip


class Tenant:
    def __init__(self, sim: KubeSim, kubectl_path: Path) -> None:
        self.sim, self.kubectl_path = sim, kubectl_path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> Any:
        return kubectl(self.kubectl_path, self.sim.kubeconfig, *args, stdin=stdin, check=check)

    def apply(self, obj: dict[str, Any], user: str = "", check: bool = False) -> Any:
        args = ["apply", "-f", "-", *(["--as", user] if user else [])]
        return self.kubectl(*args, stdin=yaml.safe_dump(obj), check=check)


def install(helm: Path, sim: KubeSim, values: dict[str, Any]) -> None:
    base = ["--kubeconfig", str(sim.kubeconfig), "-n", RELEASE_NAMESPACE]
    helm_run(helm, "upgrade", "--install", RELEASE, str(CHART), *base, "--create-namespace",
             *set_flags(values))  # fmt: skip


@pytest.fixture(scope="module")
def tenant(
    tmp_path_factory: pytest.TempPathFactory, kube_binaries: dict[str, Path]
) -> Iterator[Tenant]:
    work = tmp_path_factory.mktemp("admission")
    with KubeSim(controllers=False, work_dir=work / "kubesim") as sim:
        t = Tenant(sim, kube_binaries["kubectl"])
        install(kube_binaries["helm"], sim, {"prometheus.url": PROMETHEUS})
        t.kubectl("create", "namespace", TEAM)
        for secret in ("bob-token", "hidden"):
            t.kubectl("create", "secret", "generic", secret, "-n", TEAM, "--from-literal=t=x")
        for user, rules in (
            ("alice", [TUNINGJOB_RIGHTS]),
            ("bob", [TUNINGJOB_RIGHTS, JOB_RIGHTS, BOB_SECRET]),
        ):
            t.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(role_for(user, rules)))
        yield t


def manifest(name: str, **pod: Any) -> dict[str, Any]:
    obj = tuningjob(name, pod_spec=pod or None)
    obj["metadata"]["namespace"] = TEAM
    return obj


def with_container(obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0].update(fields)
    return obj


def with_prometheus(obj: dict[str, Any], **prometheus: Any) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["spec"]["metrics"] = {
        "source": "prometheus",
        "prometheus": {"queries": [{"metric": "loss", "query": "loss"},
                                   {"metric": "accuracy", "query": "acc"}], **prometheus},
    }  # fmt: skip
    return obj


def test_tuningjob_rights_alone_do_not_run_jobs(tenant: Tenant) -> None:
    refused = tenant.apply(manifest("alices"), user="alice")
    assert refused.returncode != 0
    assert (
        "ValidatingAdmissionPolicy 'kubetune-tuningjobs' with binding 'kubetune-tuningjobs' "
        f"denied request: user alice may not create Jobs in namespace {TEAM}"
    ) in refused.stderr
    accepted = tenant.apply(manifest("bobs"), user="bob")
    assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"serviceAccountName": "kubetune"}, "may use only the service accounts default"),
        ({"serviceAccountName": "builder"}, "may use only the service accounts default"),
        ({"hostNetwork": True}, "hostNetwork, hostPID and hostIPC are not allowed"),
        ({"hostPID": True}, "hostNetwork, hostPID and hostIPC are not allowed"),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, "hostPath volumes"),
    ],
)
def test_trial_pod_policy_refuses(tenant: Tenant, change: dict[str, Any], complaint: str) -> None:
    refused = tenant.apply(manifest("pod-policy", **change), user="bob")
    assert refused.returncode != 0
    assert complaint in refused.stderr, refused.stderr


@pytest.mark.parametrize(
    ("security", "complaint"),
    [
        ({"privileged": True}, "privileged trial containers are not allowed"),
        ({"capabilities": {"add": ["SYS_ADMIN"]}}, "may add only the capabilities (none)"),
    ],
)
def test_privileged_containers_are_refused(
    tenant: Tenant, security: dict[str, Any], complaint: str
) -> None:
    refused = tenant.apply(with_container(manifest("priv"), securityContext=security), user="bob")
    assert refused.returncode != 0
    assert complaint in refused.stderr, refused.stderr
    # Not even the admin gets past the trial pod policy: it is the administrator's own rule.
    assert tenant.apply(with_container(manifest("priv"), securityContext=security)).returncode


def test_only_secrets_the_user_can_read(tenant: Tenant) -> None:
    secret = {"name": "hidden", "key": "t"}
    refused = tenant.apply(
        with_prometheus(manifest("exfil"), url=PROMETHEUS, bearerTokenSecret=secret), user="bob"
    )
    assert refused.returncode != 0
    assert f"user bob may not get Secret hidden in namespace {TEAM}" in refused.stderr
    ca = with_prometheus(manifest("exfil"), url=PROMETHEUS, caSecret=secret)
    assert "may not get Secret hidden" in tenant.apply(ca, user="bob").stderr
    own = {"name": "bob-token", "key": "t"}
    accepted = tenant.apply(
        with_prometheus(manifest("own-token"), url=PROMETHEUS, bearerTokenSecret=own), user="bob"
    )
    assert accepted.returncode == 0, accepted.stderr


def test_prometheus_urls_from_the_allow_list_only(tenant: Tenant) -> None:
    off = tenant.apply(with_prometheus(manifest("off-list"), url="http://evil.example:80"), "bob")
    assert off.returncode != 0
    complaint = "spec.metrics.prometheus.url: http://evil.example:80 is not on the allow-list"
    assert f"{complaint} ({PROMETHEUS})" in off.stderr
    lookalike = with_prometheus(manifest("lookalike"), url=PROMETHEUS + ".evil.example")
    assert tenant.apply(lookalike, user="bob").returncode != 0
    for name, url in (("on-list", PROMETHEUS), ("sub-path", PROMETHEUS + "/prom")):
        accepted = tenant.apply(with_prometheus(manifest(name), url=url), user="bob")
        assert accepted.returncode == 0, accepted.stderr
    default = tenant.apply(with_prometheus(manifest("default-url")), user="bob")
    assert default.returncode == 0, default.stderr


def jobset(name: str) -> dict[str, Any]:
    obj = manifest(name)
    obj["spec"]["trialTemplate"].update(
        {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet"}
    )
    return obj


def test_other_trial_kinds_need_their_own_rights_and_an_allowance(tenant: Tenant) -> None:
    refused = tenant.apply(jobset("jobset-bob"), user="bob")
    assert f"user bob may not create jobsets.jobset.x-k8s.io in namespace {TEAM}" in refused.stderr
    unchecked = tenant.apply(jobset("jobset-admin"))  # the admin may create anything
    assert "the trial pod policy can check only batch/v1 Jobs, not JobSet" in unchecked.stderr


def test_the_operators_status_writes_pass(tenant: Tenant) -> None:
    """Only a new or changed spec is judged: status and metadata writes are not."""
    assert tenant.apply(manifest("status"), user="bob").returncode == 0
    patched = tenant.kubectl(
        "patch", "tj", "status", "-n", TEAM, "--type=merge", "--as", "alice",
        "-p", '{"metadata": {"annotations": {"seen": "yes"}}}', check=False,
    )  # fmt: skip
    assert patched.returncode == 0, patched.stderr
    edited = tenant.kubectl(
        "patch", "tj", "status", "-n", TEAM, "--type=merge", "--as", "alice",
        "-p", '{"spec": {"limits": {"maxTrials": 5}}}', check=False,
    )  # fmt: skip
    assert "may not create Jobs" in edited.stderr


def test_values_relax_the_policy(tmp_path: Path, kube_binaries: dict[str, Path]) -> None:
    """An administrator's allowances; the operator's own account stays refused."""
    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:
        relaxed = Tenant(sim, kube_binaries["kubectl"])
        install(
            kube_binaries["helm"],
            sim,
            {
                "admissionPolicy.allowPrivileged": True,
                "admissionPolicy.allowedCapabilities": ["SYS_PTRACE"],
                "admissionPolicy.allowedServiceAccountNames": ["default", "trainer", "kubetune"],
                "admissionPolicy.allowedPrometheusURLs": ["https://prom.example/api"],
            },
        )
        relaxed.kubectl("create", "namespace", TEAM)
        security = {"privileged": True, "capabilities": {"add": ["SYS_PTRACE"]}}
        obj = with_container(
            manifest("relaxed", serviceAccountName="trainer"), securityContext=security
        )
        obj = with_prometheus(obj, url="https://prom.example/api")
        assert relaxed.apply(obj).returncode == 0
        own = relaxed.apply(manifest("operator-sa", serviceAccountName="kubetune"))
        assert "never the operator's (kubetune)" in own.stderr
        assert relaxed.apply(jobset("unchecked")).returncode != 0
        install(kube_binaries["helm"], sim, {"admissionPolicy.allowUncheckedTrialKinds": True})
        accepted = relaxed.apply(jobset("unchecked"))
        assert accepted.returncode == 0, accepted.stderr


def network_policy(helm: Path, values: dict[str, Any]) -> dict[str, Any]:
    (policy,) = of_kind(render(helm, values), "NetworkPolicy")
    return policy


def test_network_policy_ports(helm: Path) -> None:
    spec = network_policy(helm, {})["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    egress_ports = [[p["port"] for p in rule["ports"]] for rule in spec["egress"]]
    assert egress_ports == [[53, 53], [443, 6443]]  # no Prometheus configured: none reachable
    spec = network_policy(
        helm,
        {
            "prometheus.url": PROMETHEUS,
            "admissionPolicy.allowedPrometheusURLs": [PROMETHEUS, "https://prom.example/api"],
            "networkPolicy.prometheusPeers": [{"namespaceSelector": {"matchLabels": {"a": "b"}}}],
        },
    )["spec"]
    prometheus_rule = spec["egress"][2]
    assert [p["port"] for p in prometheus_rule["ports"]] == [9090, 443]
    assert prometheus_rule["to"] == [{"namespaceSelector": {"matchLabels": {"a": "b"}}}]


def test_secret_reads_narrowed_by_name(helm: Path) -> None:
    (role,) = [
        r for r in of_kind(render(helm, {"rbac.secretNames": ["prom-token"]}), "ClusterRole")
        if r["metadata"]["name"] == RELEASE
    ]  # fmt: skip
    (secrets,) = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert secrets == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                       "resourceNames": ["prom-token"]}  # fmt: skip


def test_image_pinned_by_digest(helm: Path) -> None:
    digest = "sha256:" + "a" * 64
    (deployment,) = of_kind(render(helm, {"image.digest": digest}), "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/kubetune/kubetune@{digest}"


def test_with_watch_namespaces_the_binding_covers_only_those(helm: Path) -> None:
    (binding,) = of_kind(
        render(helm, {"watchNamespaces": ["ml", "research"]}), "ValidatingAdmissionPolicyBinding"
    )
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ml", "research"]}
    ]
    (everywhere,) = of_kind(render(helm, {}), "ValidatingAdmissionPolicyBinding")
    assert "matchResources" not in everywhere["spec"]
    assert not of_kind(
        render(helm, {"admissionPolicy.enabled": False}), "ValidatingAdmissionPolicy"
    )
