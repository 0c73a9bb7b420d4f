"""The Helm chart: lint, every mode rendered and validated against Kubernetes 1.30-1.35,
values checked by values.schema.json, the CRD copy in sync, and an install on the emulator."""

from __future__ import annotations

import functools
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from kubetune.api.crd import render_crd
from kubetune.api.loading import parse_tuningjob
from kubetune.api.status import SummaryConditionType
from kubetune.cli.main import cli
from kubetune.controller.template import render_trial_job
from kubetune.names import LABEL_TRIAL
from kubetune.runtime.kubernetes.retention import JobRetention

from dev.crds import CHART_CRD_PATH, DEFAULT_CRD_PATH
from tests.kubesim.harness import KubeSim
from tests.kubesim.selectors import match_label_selector_object

from .support import (
    CHART,
    RELEASE,
    RELEASE_NAMESPACE,
    REPO_ROOT,
    helm_run,
    kubectl,
    of_kind,
    render,
    rule_grants,
    set_flags,
)

KUBERNETES_VERSIONS = ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0"]
# Kinds from other projects' CRDs have no schema in kubernetes-validate: checked by hand below.
NOT_IN_KUBERNETES = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}

LEASE_ROLE = f"{RELEASE}-leader-election"
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
    "single-replica": {"leaderElection.enabled": False, "replicaCount": 1},
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
    "trial-metrics": {
        "watchNamespaces": ["team-a", "team-b"],
        "trialPodMonitor.enabled": True,
        "trialPodMonitor.labels": {"release": "prometheus"},
        "trialPodMonitor.portName": "prom",
        "trialPodMonitor.path": "/stats/prometheus",
        "trialPodMonitor.interval": "30s",
        "trialPodMonitor.scrapeTimeout": "30s",
        "operator.finishedJobRetention": "1h30m",
        "operator.keepBestJob": False,
    },
    "trial-metrics-clusterwide": {
        "trialPodMonitor.enabled": True,
        "operator.finishedJobRetention": "never",
    },
    # As often as a TuningJob's metrics.prometheus.interval: 5s, with no scrapeTimeout.
    "trial-metrics-fast": {"trialPodMonitor.enabled": True, "trialPodMonitor.interval": "5s"},
    # Enabled, but the cluster serves no monitoring.coreos.com/v1: nothing to create.
    "trial-metrics-no-api": {"trialPodMonitor.enabled": True},
    # Enabled, the cluster serves monitoring.coreos.com/v1 but not its PodMonitor kind.
    "trial-metrics-no-podmonitor": {"trialPodMonitor.enabled": True},
}
# What the cluster serves beyond the built-in APIs (helm template --api-versions), per mode: the
# Prometheus Operator's API, by group/version and group/version/kind as Helm lists a cluster's.
PODMONITOR_API = ["monitoring.coreos.com/v1", "monitoring.coreos.com/v1/PodMonitor"]
API_VERSIONS: dict[str, list[str]] = {
    "trial-metrics": PODMONITOR_API,
    "trial-metrics-clusterwide": ["monitoring.coreos.com/v1/PodMonitor"],
    "trial-metrics-fast": PODMONITOR_API,
    "trial-metrics-no-podmonitor": [
        "monitoring.coreos.com/v1",
        "monitoring.coreos.com/v1/ServiceMonitor",
    ],
}
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def render_mode_rules(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return rule_grants(
        rule
        for r in of_kind(objects, "ClusterRole") + of_kind(objects, "Role")
        for rule in r["rules"]
    )


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        mode: render(helm, values, API_VERSIONS.get(mode, ())) for mode, values in MODES.items()
    }


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


def trial_pod_labels(namespace: str) -> dict[str, str]:
    """The labels of a trial's pod, as the operator renders it (controller/template.py)."""
    manifest = yaml.safe_load((REPO_ROOT / "examples" / "prometheus-metrics.yaml").read_text())
    manifest["metadata"]["namespace"] = namespace
    job = render_trial_job(parse_tuningjob(manifest), 7, {"alpha": 0.5})
    assert job["metadata"]["namespace"] == namespace
    labels: dict[str, str] = job["spec"]["template"]["metadata"]["labels"]
    return labels


def test_trial_pod_monitor_scrapes_trial_pods_where_the_operator_looks(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    trial = trial_pod_labels("team-a")
    assert LABEL_TRIAL in trial
    (monitor,) = of_kind(rendered["trial-metrics"], "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["name"] == f"{RELEASE}-trials"
    assert monitor["metadata"]["namespace"] == RELEASE_NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    spec = monitor["spec"]
    assert set(spec) == {"selector", "namespaceSelector", "podTargetLabels", "podMetricsEndpoints"}
    # Every trial pod, in exactly the namespaces the operator watches, and none of the chart's.
    assert match_label_selector_object(spec["selector"], trial)
    assert match_label_selector_object(spec["selector"], trial_pod_labels("team-b"))
    assert spec["namespaceSelector"] == {"matchNames": MODES["trial-metrics"]["watchNamespaces"]}
    for objects in rendered.values():
        for obj in of_kind(objects, "Deployment") + of_kind(objects, "Pod"):
            pod = obj["spec"]["template"] if obj["kind"] == "Deployment" else obj
            labels = pod["metadata"]["labels"]
            assert not match_label_selector_object(spec["selector"], labels), obj["kind"]
    # Series carry the TuningJob and the trial (Prometheus sanitizes the names to
    # kubetune_io_tuningjob, kubetune_io_trial).
    assert set(spec["podTargetLabels"]) == {LABEL_TRIAL, "kubetune.io/tuningjob"}
    assert set(spec["podTargetLabels"]) <= set(trial)
    assert spec["podMetricsEndpoints"] == [
        {"port": "prom", "path": "/stats/prometheus", "interval": "30s", "scrapeTimeout": "30s"}
    ]

    # No scrapeTimeout unless set: Prometheus's own, capped at the interval, so that a short
    # interval needs nothing else.
    (clusterwide,) = of_kind(rendered["trial-metrics-clusterwide"], "PodMonitor")
    assert clusterwide["spec"]["namespaceSelector"] == {"any": True}
    assert clusterwide["spec"]["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}
    ]
    assert "release" not in clusterwide["metadata"]["labels"]
    (fast,) = of_kind(rendered["trial-metrics-fast"], "PodMonitor")
    assert fast["spec"]["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "5s"}
    ]
    # Off by default; never where the cluster does not serve the PodMonitor kind.
    for mode in ("defaults", "monitoring", "trial-metrics-no-api", "trial-metrics-no-podmonitor"):
        assert not of_kind(rendered[mode], "PodMonitor"), mode


@pytest.mark.parametrize(
    ("interval", "timeout", "allowed"),
    [
        ("5s", "5s", True),
        ("1m", "59s", True),
        ("1h", "59m59s999ms", True),
        ("1m30s", "90s", True),
        ("2s", "1500ms", True),
        ("5s", "10s", False),
        ("1m", "61s", False),
        ("1m", "60s1ms", False),
        ("1s", "1001ms", False),
        ("59m", "1h", False),
    ],
)
def test_trial_scrape_timeout_may_not_exceed_the_interval(
    helm: Path, interval: str, timeout: str, allowed: bool
) -> None:
    """Prometheus refuses a scrape timeout longer than the interval, and JSON schema cannot
    compare the two: the template does, where the cluster serves PodMonitor or not."""
    values = {
        "trialPodMonitor.enabled": True,
        "trialPodMonitor.interval": interval,
        "trialPodMonitor.scrapeTimeout": timeout,
    }
    for api_versions in (PODMONITOR_API, []):
        args = [*set_flags(values), *[a for api in api_versions for a in ("--api-versions", api)]]
        result = helm_run(helm, "template", RELEASE, str(CHART), *args, check=False)
        if allowed:
            assert result.returncode == 0, result.stderr
            monitors = of_kind(
                [doc for doc in yaml.safe_load_all(result.stdout) if doc], "PodMonitor"
            )
            assert [m["spec"]["podMetricsEndpoints"][0]["scrapeTimeout"] for m in monitors] == (
                [timeout] if api_versions else []
            )
        else:
            assert result.returncode != 0
            assert (
                f"trialPodMonitor.scrapeTimeout ({timeout}) is longer than "
                f"trialPodMonitor.interval ({interval})"
            ) in result.stderr, result.stderr
    # Only when enabled: the values of a monitor that is off are not checked.
    off = {**values, "trialPodMonitor.enabled": False}
    assert not of_kind(render(helm, off, PODMONITOR_API), "PodMonitor")


# The Prometheus Operator's Duration (monitoring.coreos.com/v1): what it takes for an interval
# or a scrape timeout.
PROMETHEUS_OPERATOR_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
MONITOR_DURATION_SCHEMA = jsonschema.Draft7Validator(SCHEMA["definitions"]["prometheusDuration"])


@given(
    text=st.one_of(
        st.text(alphabet="0123456789.smh", max_size=8),
        st.from_regex(r"\A([0-9]{1,3}(\.[0-9])?(ms|s|m|h)){1,3}\Z"),
    )
)
@settings(max_examples=300, deadline=None)
def test_monitor_durations_are_the_prometheus_operators(text: str) -> None:
    if MONITOR_DURATION_SCHEMA.is_valid(text):
        assert re.fullmatch(PROMETHEUS_OPERATOR_DURATION, text), text
        assert text  # an empty interval is no interval


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        *[(t, True) for t in ("15s", "1m", "1m30s", "500ms", "1h0m0s", "2s500ms", "0s")],
        *[(t, False) for t in ("", "1.5s", "0.5m", "30s1m", "1m1m", "15", "1d", "15S", " 15s")],
    ],
)
def test_monitor_duration_samples(text: str, valid: bool) -> None:
    assert MONITOR_DURATION_SCHEMA.is_valid(text) == valid


def test_two_replicas_elect_a_leader_and_a_drain_keeps_one(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (budget,) = of_kind(rendered["defaults"], "PodDisruptionBudget")
    (deployment,) = of_kind(rendered["defaults"], "Deployment")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    roles = {r["metadata"]["name"]: r for r in of_kind(rendered["defaults"], "Role")}
    lease_role = roles[LEASE_ROLE]
    assert lease_role["metadata"]["namespace"] == RELEASE_NAMESPACE
    assert lease_role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }
    ]


def test_without_leader_election_one_replica_is_recreated(
    rendered: dict[str, list[dict[str, Any]]], helm: Path
) -> None:
    (deployment,) = of_kind(rendered["single-replica"], "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "--no-leader-election" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not of_kind(rendered["single-replica"], "PodDisruptionBudget")
    refused = helm_run(
        helm,
        "template",
        "kubetune",
        str(CHART),
        *set_flags({"leaderElection.enabled": False}),
        check=False,
    )
    assert refused.returncode != 0
    assert "replicaCount > 1 needs leaderElection.enabled" in refused.stderr


def test_deployment_is_hardened_and_probed(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (deployment,) = of_kind(rendered["defaults"], "Deployment")
    spec = deployment["spec"]
    # Two replicas behind a Lease: one leads, one waits (test_leader_election.py).
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == RELEASE
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/kubetune/kubetune:0.1.0"
    assert container["args"] == [
        "--health-port=8080",
        "--log-format=json",
        "--finished-job-retention=10m",
        "--keep-best-job",
        "--lease-name=kubetune",
    ]
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
    assert [e["name"] for e in container["env"]] == ["POD_NAME", "POD_NAMESPACE"]

    (monitored,) = of_kind(rendered["monitoring"], "Deployment")
    (container,) = monitored["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "--health-port=8080",
        "--log-format=plain",
        "--verbose",
        "--finished-job-retention=10m",
        "--keep-best-job",
        "--lease-name=kubetune",
    ]
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


def operator_retention(args: list[str]) -> tuple[bool, JobRetention | None]:
    """Whether ``kubetune operator ARGS`` accepts its arguments, and the Job retention it would
    run with (the operator itself is not started)."""
    seen: list[JobRetention | None] = []

    def run_operator(
        namespaces: Any,
        health_port: Any,
        kubeconfig: Any,
        log_format: Any,
        verbose: Any,
        retention: JobRetention | None,
        lease: Any = None,
    ) -> None:
        seen.append(retention)

    unset: dict[str, str | None] = {
        "KUBETUNE_FINISHED_JOB_RETENTION": None,
        "KUBETUNE_KEEP_BEST_JOB": None,
    }
    with mock.patch("kubetune.operator.run.run_operator", run_operator):
        result = CliRunner().invoke(cli, ["operator", *args], env=unset)
    if result.exit_code == 2:  # click's usage error: a value it refuses
        return False, None
    assert result.exit_code == 0, result.output
    (retention,) = seen
    return True, retention


def deployment_args(objects: list[dict[str, Any]]) -> list[str]:
    (deployment,) = of_kind(objects, "Deployment")
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_the_defaults_are_the_operators() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]
    assert values["finishedJobRetention"] == "10m"
    assert values["keepBestJob"] is True
    # The operator's own defaults, with no flag at all: the chart changes nothing by default.
    assert operator_retention([]) == (True, JobRetention(600.0, keep_best=True))


@pytest.mark.parametrize(
    ("values", "retention"),
    [
        ({}, JobRetention(600.0, keep_best=True)),
        ({"operator.finishedJobRetention": "1h30m"}, JobRetention(5400.0, keep_best=True)),
        ({"operator.finishedJobRetention": "0.5s"}, JobRetention(0.5, keep_best=True)),
        ({"operator.finishedJobRetention": "0"}, JobRetention(0.0, keep_best=True)),
        ({"operator.finishedJobRetention": 0}, JobRetention(0.0, keep_best=True)),
        ({"operator.finishedJobRetention": "0m"}, JobRetention(0.0, keep_best=True)),
        ({"operator.finishedJobRetention": "0h0.0s"}, JobRetention(0.0, keep_best=True)),
        ({"operator.keepBestJob": False}, JobRetention(600.0, keep_best=False)),
        ({"operator.finishedJobRetention": "never"}, None),
    ],
)
def test_the_operator_runs_with_the_rendered_retention(
    helm: Path, values: dict[str, Any], retention: JobRetention | None
) -> None:
    args = deployment_args(render(helm, values))
    flags = [a for a in args if "job" in a]
    assert flags == [
        f"--finished-job-retention={values.get('operator.finishedJobRetention', '10m')}",
        "--keep-best-job" if values.get("operator.keepBestJob", True) else "--no-keep-best-job",
    ]
    assert operator_retention(args) == (True, retention)


def test_the_rendered_modes_pass_their_retention(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    assert operator_retention(deployment_args(rendered["trial-metrics"])) == (
        True,
        JobRetention(5400.0, keep_best=False),
    )
    assert operator_retention(deployment_args(rendered["trial-metrics-clusterwide"])) == (
        True,
        None,
    )


RETENTION_SCHEMA = jsonschema.Draft7Validator(SCHEMA["definitions"]["retention"])
RETENTION_SAMPLES = [
    *["never", "0", "0s", "10m", "90s", "2h", "1h30m", "0.5s", "1.5h", "0h1s", "1h0m", "001m"],
    *["0m", "00s", "0.0s", "0h0m", "", "Never", "never ", "10", "5", "1d", "1ms", "-1s"],
    *["10 m", " 10m", "10m ", ".5s", "1.s", "s", "m1", "1m1", "1e3s", "10M"],
]


@pytest.mark.parametrize("text", RETENTION_SAMPLES)
def test_the_schema_takes_the_retentions_the_operator_takes(text: str) -> None:
    accepted, _ = operator_retention([f"--finished-job-retention={text}"])
    assert RETENTION_SCHEMA.is_valid(text) == accepted


@given(
    text=st.one_of(
        st.text(alphabet="0123456789.smh", max_size=8),
        st.from_regex(r"\A([0-9]{1,3}(\.[0-9]{1,2})?[smh]){1,3}\Z"),
        st.integers(min_value=-2, max_value=100),
    )
)
@settings(max_examples=300, deadline=None)
def test_the_schema_and_the_operator_agree_on_any_retention(text: str | int) -> None:
    # An integer is what `--set operator.finishedJobRetention=0` gives the chart; it renders as
    # the same digits on the command line.
    accepted, _ = operator_retention([f"--finished-job-retention={text}"])
    assert RETENTION_SCHEMA.is_valid(text) == accepted, text


def test_install_doc_lists_the_retention_and_trial_monitoring_values() -> None:
    """docs/install.md's values table (generated from values.yaml: tests/docs checks it is
    current) gives the retention flags and every trialPodMonitor value with its default."""
    rows = {
        line.split("`")[1]: line
        for line in (REPO_ROOT / "docs" / "install.md").read_text().splitlines()
        if line.startswith("| `")
    }
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    operator = values["operator"]
    retention = rows["operator.finishedJobRetention"]
    assert f"| `{operator['finishedJobRetention']}` |" in retention
    assert "--finished-job-retention" in retention
    keep = rows["operator.keepBestJob"]
    assert f"| `{str(operator['keepBestJob']).lower()}` |" in keep
    assert "--no-keep-best-job" in keep
    for key, default in values["trialPodMonitor"].items():
        shown = json.dumps(default) if default in ("", {}) else str(default).lower()
        assert f"| `{shown}` |" in rows[f"trialPodMonitor.{key}"], key


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
    # The only Role is the Lease's, in the release namespace.
    assert [r["metadata"]["name"] for r in of_kind(clusterwide, "Role")] == [LEASE_ROLE]
    assert [b["metadata"]["name"] for b in of_kind(clusterwide, "RoleBinding")] == [LEASE_ROLE]
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
    roles = [r for r in of_kind(namespaced, "Role") if r["metadata"]["name"] != LEASE_ROLE]
    bindings = [
        b for b in of_kind(namespaced, "RoleBinding") if b["metadata"]["name"] != LEASE_ROLE
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
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
    assert DEFAULT_CRD_PATH.read_text() == generated, "run: python -m dev.crds"
    assert CHART_CRD_PATH.read_text() == generated, "run: python -m dev.crds"
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
        ({"operator.finishedJobRetention": "10 minutes"}, "finishedJobRetention"),
        ({"operator.finishedJobRetention": "1d"}, "finishedJobRetention"),
        ({"operator.finishedJobRetention": 600}, "finishedJobRetention"),
        ({"operator.keepBestJob": "no"}, "keepBestJob"),
        ({"trialPodMonitor.enabled": "true"}, "enabled"),
        ({"trialPodMonitor.portName": "Metrics_Port"}, "portName"),
        ({"trialPodMonitor.portName": 9090}, "portName"),
        ({"trialPodMonitor.path": "metrics"}, "path"),
        ({"trialPodMonitor.interval": "15"}, "interval"),
        # Whole units in Prometheus's order, as the Prometheus Operator's Duration takes them.
        ({"trialPodMonitor.interval": "1.5s"}, "interval"),
        ({"trialPodMonitor.interval": "30s1m"}, "interval"),
        ({"trialPodMonitor.interval": ""}, "interval"),
        ({"trialPodMonitor.scrapeTimeout": "0.5s"}, "scrapeTimeout"),
        ({"trialPodMonitor.scrapeTimeout": "10"}, "scrapeTimeout"),
        ({"serviceMonitor.interval": "1.5m"}, "interval"),
        ({"serviceMonitor.scrapeTimeout": "10 s"}, "scrapeTimeout"),
        ({"trialPodMonitor.labels": {"release": 1}}, "labels"),
        ({"trialPodMonitor.namespaces": ["ml"]}, "namespaces"),
    ],
)
def test_schema_rejects_bad_values(helm: Path, values: dict[str, Any], complaint: str) -> None:
    args = [a for k, v in values.items() for a in ("--set-json", f"{k}={json.dumps(v)}")]
    result = helm_run(helm, "template", "kt", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert "schema" in result.stderr, result.stderr
    assert complaint in result.stderr, result.stderr


def install_notes(helm: Path, *flags: str) -> str:
    """The NOTES `helm install` prints (a client-side dry run)."""
    result = helm_run(
        helm, "install", RELEASE, str(CHART), "--dry-run=client", "-n", RELEASE_NAMESPACE, *flags
    )
    return result.stdout.split("NOTES:", 1)[1]


def step_commands(notes: str, step: int) -> list[str]:
    """The kubectl command lines of one numbered step of the NOTES."""
    text = notes.split(f"\n{step}. ", 1)[1].split(f"\n{step + 1}. ", 1)[0]
    return [line.strip() for line in text.splitlines() if line.strip().startswith("kubectl ")]


def test_notes_say_what_to_do_next(
    helm: Path, kube_binaries: dict[str, Path], tmp_path: Path
) -> None:
    notes = install_notes(helm, "--set-json", 'watchNamespaces=["ml"]')
    assert "rollout status deployment/kubetune" in notes
    assert "helm test kubetune" in notes
    assert "It handles TuningJobs in: ml." in notes
    assert step_commands(notes, 2) == ["kubectl apply -n ml -f examples/quickstart.yaml"]
    watch = step_commands(notes, 3)
    assert watch == [
        "kubectl get tuningjobs -n ml -w",
        "kubectl wait --for=condition=Ready tj/quickstart -n ml --timeout=1h",
        "kubectl get tj quickstart -n ml -o jsonpath='{.status.bestTrial}'",
        "kubectl describe tj quickstart -n ml",
    ]
    # The summary conditions the operator sets: Ready once complete, Stalled when failed.
    step3 = notes.split("\n3. ", 1)[1]
    assert f"--for=condition={SummaryConditionType.READY.value} " in step3
    assert f"{SummaryConditionType.STALLED.value}=True" in step3
    # Cluster-wide, every step names the same namespace as well.
    everywhere = install_notes(helm)
    assert "It handles TuningJobs in every namespace." in everywhere
    for command in step_commands(everywhere, 2) + step_commands(everywhere, 3):
        assert " -n default " in f"{command} ", command

    # The commands as a user runs them, on the emulator: the TuningJob lives in ml only, so a
    # command without -n ml would find nothing.
    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:
        on_sim = functools.partial(kubectl, kube_binaries["kubectl"], sim.kubeconfig, check=False)

        def from_notes(command: str) -> subprocess.CompletedProcess[str]:
            args = shlex.split(command)[1:]
            args = [a for a in args if a != "-w"]  # a watch never ends: list once instead
            args = ["--timeout=30s" if a.startswith("--timeout=") else a for a in args]
            result = on_sim(*args)
            assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
            return result

        assert on_sim("apply", "-f", str(DEFAULT_CRD_PATH)).returncode == 0
        on_sim("wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io")
        assert on_sim("create", "namespace", "ml").returncode == 0
        (apply,) = step_commands(notes, 2)
        from_notes(apply)
        status = {
            "conditions": [
                {"type": "Complete", "status": "True", "reason": "MaxTrialsReached"},
                {"type": SummaryConditionType.READY.value, "status": "True", "reason": "Complete"},
            ],
            "bestTrial": {
                "name": "quickstart-3",
                "number": 3,
                "parameters": {"max_depth": 4},
                "objective": 52.5,
            },
        }
        patch = on_sim(
            "patch",
            "tj",
            "quickstart",
            "-n",
            "ml",
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )
        assert patch.returncode == 0, patch.stderr
        listed, waited, best, described = (from_notes(command) for command in watch)
        assert "quickstart" in listed.stdout
        assert "condition met" in waited.stdout
        assert json.loads(best.stdout)["name"] == "quickstart-3"
        assert "quickstart" in described.stdout
        # Without -n ml the same command would not find it.
        assert on_sim("get", "tj", "quickstart").returncode != 0


def test_install_upgrade_uninstall_on_the_emulator(
    helm: Path, kube_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """`helm install --create-namespace` as the README and docs/install.md say; the CRD
    outlives the release."""
    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:

        def run(*args: str) -> str:
            base = ["--kubeconfig", str(sim.kubeconfig)]
            return helm_run(helm, *base, *args).stdout

        def on_sim(*args: str) -> str:
            return kubectl(kube_binaries["kubectl"], sim.kubeconfig, *args).stdout

        run("install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace")
        kinds = on_sim(
            "get", "deploy,svc,sa,role,rolebinding", "-n", RELEASE_NAMESPACE, "-o", "name"
        )
        assert "deployment.apps/kubetune" in kinds
        assert "service/kubetune" in kinds
        assert "clusterrole.rbac.authorization.k8s.io/kubetune-editor" in on_sim(
            "get", "clusterroles", "-o", "name"
        )
        on_sim("wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io")
        run(
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            RELEASE_NAMESPACE,
            "--set-json",
            'watchNamespaces=["default"]',
        )
        roles = on_sim("get", "roles", "-n", "default", "-o", "name")
        assert "role.rbac.authorization.k8s.io/kubetune" in roles
        run("uninstall", RELEASE, "-n", RELEASE_NAMESPACE)
        assert "deployment" not in on_sim("get", "deploy", "-n", RELEASE_NAMESPACE, "-o", "name")
        # helm.sh/resource-policy: keep: the CRD, and so every TuningJob, survives.
        assert "tuningjobs.kubetune.io" in on_sim("get", "crd", "-o", "name")


def monitoring_crd(kind: str) -> dict[str, Any]:
    """One of the Prometheus Operator's CRDs, reduced to what the API server needs to serve it."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": f"{kind.lower()}s",
                "singular": kind.lower(),
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def test_trial_pod_monitor_only_where_the_cluster_serves_it(
    helm: Path, kube_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """Enabled on a cluster without the Prometheus Operator, or with its ServiceMonitor CRD but
    not the PodMonitor one (monitoring.coreos.com/v1 served, the kind not), the install still
    works and the NOTES say why there is no PodMonitor; once its CRD is there, an upgrade
    creates it."""
    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:

        def run(*args: str) -> str:
            return helm_run(helm, "--kubeconfig", str(sim.kubeconfig), *args).stdout

        def on_sim(*args: str, stdin: str | None = None) -> str:
            return kubectl(kube_binaries["kubectl"], sim.kubeconfig, *args, stdin=stdin).stdout

        enable = ["-n", RELEASE_NAMESPACE, "--set", "trialPodMonitor.enabled=true"]
        installed = run("install", RELEASE, str(CHART), "--create-namespace", *enable)
        assert "no PodMonitor was created" in installed
        assert "deployment.apps/kubetune" in on_sim(
            "get", "deploy", "-n", RELEASE_NAMESPACE, "-o", "name"
        )

        on_sim("apply", "-f", "-", stdin=json.dumps(monitoring_crd("ServiceMonitor")))
        on_sim("wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com")
        assert "monitoring.coreos.com/v1" in on_sim("api-versions").split()
        upgraded = run("upgrade", RELEASE, str(CHART), *enable)
        assert "no PodMonitor was created" in upgraded

        on_sim("apply", "-f", "-", stdin=json.dumps(monitoring_crd("PodMonitor")))
        on_sim("wait", "--for=condition=Established", "crd/podmonitors.monitoring.coreos.com")
        upgraded = run("upgrade", RELEASE, str(CHART), *enable)
        assert f"through PodMonitor {RELEASE}-trials" in upgraded
        assert "no PodMonitor was created" not in upgraded
        monitor = json.loads(
            on_sim("get", "podmonitors", f"{RELEASE}-trials", "-n", RELEASE_NAMESPACE, "-o", "json")
        )
        assert match_label_selector_object(monitor["spec"]["selector"], trial_pod_labels("default"))
        assert monitor["spec"]["namespaceSelector"] == {"any": True}
        run("uninstall", RELEASE, "-n", RELEASE_NAMESPACE)
        assert not on_sim("get", "podmonitors", "-n", RELEASE_NAMESPACE, "-o", "name").strip()
