"""The Helm chart: lint, every mode rendered and validated against Kubernetes 1.30-1.35,
values checked by values.schema.json, the CRD copy in sync, and an install on the emulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubetune.api.crd import CHART_CRD_PATH, DEFAULT_CRD_PATH, render_crd

from tests.kubesim.harness import KubeSim

from .support import CHART, RELEASE, RELEASE_NAMESPACE, helm_run, of_kind, render, rule_grants

KUBERNETES_VERSIONS = ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0"]
# Kinds from other projects' CRDs have no schema in kubernetes-validate: checked by hand below.
NOT_IN_KUBERNETES = {("monitoring.coreos.com/v1", "ServiceMonitor")}

MODES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "namespaced-no-discovery": {"watchNamespaces": ["team-a"], "rbac.discovery": False},
    "monitoring": {
        "serviceMonitor.enabled": True,
        "serviceMonitor.labels": {"release": "prometheus"},
        "prometheus.url": "http://prometheus-operated.monitoring:9090",
        "operator.logFormat": "plain",
        "operator.verbose": True,
    },
    "bring-your-own": {
        "rbac.create": False,
        "serviceAccount.create": False,
        "serviceAccount.name": "ml-operator",
        "crds.install": False,
        "service.enabled": False,
        "image.digest": "sha256:" + "a" * 64,
    },
    "crds-not-kept": {"crds.keep": False, "fullnameOverride": "tuning"},
    "no-secrets": {"rbac.secrets": False},
}


def render_mode_rules(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return rule_grants(
        rule
        for r in of_kind(objects, "ClusterRole") + of_kind(objects, "Role")
        for rule in r["rules"]
    )


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[str, list[dict[str, Any]]]:
    return {mode: render(helm, values) for mode, values in MODES.items()}


def test_helm_lint_strict(helm: Path) -> None:
    result = helm_run(helm, "lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in result.stdout
    for mode, values in MODES.items():
        flags = [f"{k}={json.dumps(v)}" for k, v in values.items()]
        args = [a for flag in flags for a in ("--set-json", flag)]
        result = helm_run(helm, "lint", "--strict", str(CHART), *args)
        assert "0 chart(s) failed" in result.stdout, mode


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_mode_validates_strictly(
    rendered: dict[str, list[dict[str, Any]]], version: str
) -> None:
    problems = []
    for mode, objects in rendered.items():
        for obj in objects:
            if (obj["apiVersion"], obj["kind"]) in NOT_IN_KUBERNETES:
                continue
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{mode}: {obj['kind']} {obj['metadata']['name']}: {error}")
    assert not problems, "\n".join(problems)


def test_service_monitor_scrapes_the_metrics_port(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (monitor,) = of_kind(rendered["monitoring"], "ServiceMonitor")
    (service,) = of_kind(rendered["monitoring"], "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "http",
        "path": "/metrics",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert not of_kind(rendered["defaults"], "ServiceMonitor")


def test_deployment_is_hardened_and_probed(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (deployment,) = of_kind(rendered["defaults"], "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == RELEASE
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/kubetune/kubetune:0.1.0"
    assert container["args"] == ["--health-port=8080", "--log-format=json"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    assert "env" not in container or not container["env"]

    (monitored,) = of_kind(rendered["monitoring"], "Deployment")
    (container,) = monitored["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["--health-port=8080", "--log-format=plain", "--verbose"]
    assert {"name": "KUBETUNE_PROMETHEUS_URL", "value": MODES["monitoring"]["prometheus.url"]} in (
        container["env"]
    )
    (namespaced,) = of_kind(rendered["namespaced"], "Deployment")
    (container,) = namespaced["spec"]["template"]["spec"]["containers"]
    assert {"name": "KUBETUNE_NAMESPACES", "value": "team-a team-b"} in container["env"]
    (pinned,) = of_kind(rendered["bring-your-own"], "Deployment")
    pod = pinned["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ml-operator"
    assert pod["containers"][0]["image"] == "ghcr.io/kubetune/kubetune@sha256:" + "a" * 64


def test_recommended_labels_on_every_object(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for mode, objects in rendered.items():
        for obj in objects:
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "kubetune", (mode, obj["kind"])
            assert labels["app.kubernetes.io/instance"] == RELEASE
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["app.kubernetes.io/version"] == "0.1.0"
            assert labels["helm.sh/chart"] == "kubetune-0.1.0"


def test_rbac_modes_and_no_wildcards(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for mode, objects in rendered.items():
        for role in of_kind(objects, "ClusterRole") + of_kind(objects, "Role"):
            for rule in role["rules"]:
                for key in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[key], (mode, role["metadata"]["name"], rule)

    clusterwide = rendered["defaults"]
    assert not of_kind(clusterwide, "Role")
    assert not of_kind(clusterwide, "RoleBinding")
    operator_role = next(
        r for r in of_kind(clusterwide, "ClusterRole") if r["metadata"]["name"] == RELEASE
    )
    grants = rule_grants(operator_role["rules"])
    assert ("create", "batch", "jobs") in grants
    assert not any(resource == "namespaces" for _, _, resource in grants)
    assert {verb for verb, _, resource in grants if resource == "secrets"} == {"get"}
    no_secrets = render_mode_rules(rendered["no-secrets"])
    assert not any(resource == "secrets" for _, _, resource in no_secrets)

    namespaced = rendered["namespaced"]
    roles = of_kind(namespaced, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in of_kind(namespaced, "RoleBinding")) == [
        "team-a",
        "team-b",
    ]
    assert rule_grants(roles[0]["rules"]) == grants - rule_grants(
        [
            {
                "apiGroups": ["apiextensions.k8s.io"],
                "resources": ["customresourcedefinitions"],
                "verbs": ["list", "watch"],
            }
        ]
    )
    # Cluster-wide, the namespaced mode reads only what kopf needs to discover namespaces and CRDs.
    discovery = next(
        r for r in of_kind(namespaced, "ClusterRole") if r["metadata"]["name"] == RELEASE
    )
    assert rule_grants(discovery["rules"]) == {
        ("list", "apiextensions.k8s.io", "customresourcedefinitions"),
        ("watch", "apiextensions.k8s.io", "customresourcedefinitions"),
        ("list", "", "namespaces"),
        ("watch", "", "namespaces"),
    }
    strict = rendered["namespaced-no-discovery"]
    assert {r["metadata"]["name"] for r in of_kind(strict, "ClusterRole")} == {
        "kubetune-editor",
        "kubetune-viewer",
    }
    assert not of_kind(strict, "ClusterRoleBinding")
    byo = rendered["bring-your-own"]
    assert not [o for o in byo if o["kind"] in {"ClusterRole", "Role", "ServiceAccount"}]


def test_editor_and_viewer_aggregate_to_the_builtin_roles(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    roles = {r["metadata"]["name"]: r for r in of_kind(rendered["defaults"], "ClusterRole")}
    editor, viewer = roles["kubetune-editor"], roles["kubetune-viewer"]
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k in editor["metadata"]["labels"] if k.startswith(aggregate)} == {
        aggregate + "admin",
        aggregate + "edit",
    }
    assert {k for k in viewer["metadata"]["labels"] if k.startswith(aggregate)} == {
        aggregate + "admin",
        aggregate + "edit",
        aggregate + "view",
    }
    assert ("create", "kubetune.io", "tuningjobs") in rule_grants(editor["rules"])
    assert {verb for verb, _, _ in rule_grants(viewer["rules"])} == {"get", "list", "watch"}


def test_crd_copy_is_generated_and_rendered_unchanged(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    generated = render_crd()
    assert DEFAULT_CRD_PATH.read_text() == generated, "run: python -m kubetune.api.crd --write"
    assert CHART_CRD_PATH.read_text() == generated, "run: python -m kubetune.api.crd --write"
    source = yaml.safe_load(generated)
    (crd,) = of_kind(rendered["defaults"], "CustomResourceDefinition")
    assert {k: v for k, v in crd.items() if k != "metadata"} == {
        k: v for k, v in source.items() if k != "metadata"
    }
    assert crd["metadata"]["name"] == source["metadata"]["name"]
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    (unkept,) = of_kind(rendered["crds-not-kept"], "CustomResourceDefinition")
    assert "helm.sh/resource-policy" not in (unkept["metadata"].get("annotations") or {})
    assert not of_kind(rendered["bring-your-own"], "CustomResourceDefinition")
    # Not Helm's crds/ directory: that one is never upgraded.
    assert not (CHART / "crds").exists()


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
        ({"watchNamespaces": "team-a"}, "watchNamespaces"),
        ({"operator.logFormat": "xml"}, "logFormat"),
        ({"operator.port": 80}, "port"),
        ({"image.pullPolicy": "Sometimes"}, "pullPolicy"),
        ({"prometheus.url": "prometheus:9090"}, "url"),
        ({"crds.install": "yes"}, "install"),
        ({"serviceMonitor.interval": "30 seconds"}, "interval"),
        ({"rbac.wildcards": True}, "wildcards"),
        ({"replicas": 2}, "replicas"),
    ],
)
def test_schema_rejects_bad_values(helm: Path, values: dict[str, Any], complaint: str) -> None:
    args = [a for k, v in values.items() for a in ("--set-json", f"{k}={json.dumps(v)}")]
    result = helm_run(helm, "template", "kt", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert "schema" in result.stderr, result.stderr
    assert complaint in result.stderr, result.stderr


def test_notes_say_what_to_do_next(helm: Path) -> None:
    result = helm_run(
        helm,
        "install",
        RELEASE,
        str(CHART),
        "--dry-run=client",
        "-n",
        RELEASE_NAMESPACE,
        "--set-json",
        'watchNamespaces=["ml"]',
    )
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "rollout status deployment/kubetune" in notes
    assert "helm test kubetune" in notes
    assert "kubectl apply -n ml -f examples/quickstart.yaml" in notes
    assert "kubectl get tuningjobs -w" in notes
    assert "It handles TuningJobs in: ml." in notes


def test_install_upgrade_uninstall_on_the_emulator(
    helm: Path, kube_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """`helm install --create-namespace` as the README says; the CRD outlives the release."""
    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:

        def run(*args: str) -> str:
            base = ["--kubeconfig", str(sim.kubeconfig)]
            return helm_run(helm, *base, *args).stdout

        def kubectl(*args: str) -> str:
            return subprocess.run(
                [str(kube_binaries["kubectl"]), "--kubeconfig", str(sim.kubeconfig), *args],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout

        run("install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace")
        kinds = kubectl(
            "get", "deploy,svc,sa,role,rolebinding", "-n", RELEASE_NAMESPACE, "-o", "name"
        )
        assert "deployment.apps/kubetune" in kinds
        assert "service/kubetune" in kinds
        assert "clusterrole.rbac.authorization.k8s.io/kubetune-editor" in kubectl(
            "get", "clusterroles", "-o", "name"
        )
        kubectl("wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io")
        run(
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            RELEASE_NAMESPACE,
            "--set-json",
            'watchNamespaces=["default"]',
        )
        roles = kubectl("get", "roles", "-n", "default", "-o", "name")
        assert "role.rbac.authorization.k8s.io/kubetune" in roles
        run("uninstall", RELEASE, "-n", RELEASE_NAMESPACE)
        assert "deployment" not in kubectl("get", "deploy", "-n", RELEASE_NAMESPACE, "-o", "name")
        # helm.sh/resource-policy: keep: the CRD, and so every TuningJob, survives.
        assert "tuningjobs.kubetune.io" in kubectl("get", "crd", "-o", "name")
