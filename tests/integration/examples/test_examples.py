"""Every manifest in examples/ is valid, runs on the emulated cluster with the operator, and the
quick ones run locally with ``kubetune run``, each with fewer trials than it asks for.

The examples name ``workingDir: /app`` (where the examples image keeps ``trainers/``) and relative
script paths. Neither the emulator's kubelet nor ``kubetune run`` has /app, so the tests point
``workingDir`` at this checkout's examples/ directory, which both honour when it exists.
(``kubetune run examples/X.yaml`` by hand needs no change: it falls back to the manifest's
directory.)
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.operator.harness import Cluster, OperatorProcess

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ALL = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
# name -> limits for the test run (and extra trial env), small enough to finish in seconds.
ON_CLUSTER: dict[str, dict[str, Any]] = {
    "quickstart.yaml": {"maxTrials": 2, "parallelTrials": 2},
    "gpu-pytorch.yaml": {"maxTrials": 2, "parallelTrials": 2},
    "gbm-metric-regex.yaml": {"maxTrials": 2, "parallelTrials": 2},
    "bayesian-parallel.yaml": {"maxTrials": 3, "parallelTrials": 3},
    "grid-search.yaml": {"maxTrials": 3, "parallelTrials": 3},
    "multi-objective.yaml": {"maxTrials": 3, "parallelTrials": 3},
    "constrained.yaml": {"maxTrials": 3, "parallelTrials": 3},
}
LOCALLY = [
    "gbm-metric-regex.yaml",
    "grid-search.yaml",
    "bayesian-parallel.yaml",
    "multi-objective.yaml",
    "constrained.yaml",
]
# The PyTorch example's trainer needs PyTorch, which the test command never installs: its trials
# run a stand-in with the same flags and output (the example's GPU placement and metrics are
# what is under test).
STAND_INS = {"trainers/pytorch_mlp.py": str(Path(__file__).with_name("torchless_mlp.py"))}
# Validated and rendered only: one needs PyTorch (never installed for the tests), the other Kueue.
RENDERED_ONLY = ["distributed-torchrun.yaml", "kueue-gpu.yaml"]


def load(name: str, limits: dict[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["namespace"] = "default"
    manifest["spec"]["limits"].update(limits)
    pod = manifest["spec"]["trialTemplate"]["spec"]["template"]["spec"]
    for container in pod["containers"]:
        assert container.get("workingDir") in (None, "/app"), name
        container["workingDir"] = str(EXAMPLES)
        container["command"] = [STAND_INS.get(word, word) for word in container["command"]]
        for env in container.get("env") or []:
            if env["name"] == "EPOCHS":
                env["value"] = "2"
    return manifest


def test_examples_readme_describes_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for name in ALL:
        assert f"`{name}`" in readme, name
    assert set(ON_CLUSTER) | {"prometheus-metrics.yaml", *RENDERED_ONLY} == set(ALL)


def test_every_example_validates() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "validate", *(str(EXAMPLES / n) for n in ALL)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("is valid") == len(ALL)


@pytest.mark.parametrize("name", sorted(ON_CLUSTER))
def test_example_completes_on_the_cluster(
    cluster: Cluster, operator: OperatorProcess, name: str
) -> None:
    manifest = load(name, ON_CLUSTER[name])
    tj = manifest["metadata"]["name"]
    cluster.apply(manifest)
    result = cluster.kubectl(
        "wait", "--for=condition=Complete", f"tj/{tj}", "--timeout=150s", check=False
    )
    assert result.returncode == 0, f"{result.stderr}\n{cluster.tuningjob(tj).get('status')}"
    status = cluster.tuningjob(tj)["status"]
    assert status["trials"]["failed"] == 0, status
    if "objectives" in manifest["spec"]:
        metrics = {o["metric"] for o in manifest["spec"]["objectives"]}
        assert "bestTrial" not in status, status
        assert 1 <= len(status["paretoFront"]) == status["paretoFrontSize"] <= 3, status
        assert all(set(t["objectives"]) == metrics for t in status["paretoFront"]), status
        cluster.kubectl("delete", "tj", tj)
        return
    if "constraints" in manifest["spec"]:
        assert status["trials"]["infeasible"] >= 0, status  # present only with constraints
    best = status["bestTrial"]
    assert isinstance(best["objective"], float)
    for extra in manifest["spec"]["objective"].get("additionalMetrics") or []:
        assert extra in best["metrics"], best
    if name == "gpu-pytorch.yaml":
        for job in cluster.jobs(tj):
            pod = job["spec"]["template"]["spec"]
            limits = pod["containers"][0]["resources"]["limits"]
            assert str(limits["nvidia.com/gpu"]) == "1"
            assert pod["tolerations"] == [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ]
        # kubectl, not the typed client: its model rejects the int quantity `nvidia.com/gpu: 1`.
        pods = json.loads(
            cluster.kubectl("get", "pods", "-l", f"kubetune.io/tuningjob={tj}", "-o", "json").stdout
        )["items"]
        assert pods
        for pod in pods:
            node = cluster.core.read_node(pod["spec"]["nodeName"])
            assert node.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    cluster.kubectl("delete", "tj", tj)


def render(name: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "render", str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    job: dict[str, Any] = yaml.safe_load(result.stdout)
    return job


INTERRUPTION_POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}},
    ]
}


def test_distributed_example_renders_an_indexed_job_that_reruns_interrupted_pods() -> None:
    job = render("distributed-torchrun.yaml")
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    assert spec["podFailurePolicy"] == INTERRUPTION_POLICY
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == "torchrun"
    assert pod["containers"][0]["command"][:2] == ["python", "trainers/torch_ddp.py"]
    assert (EXAMPLES / "trainers" / "torch_ddp.py").is_file()


def test_kueue_example_renders_a_suspended_job_in_a_queue() -> None:
    job = render("kueue-gpu.yaml")
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu"
    assert job["spec"]["suspend"] is True
    assert job["spec"]["podFailurePolicy"] == INTERRUPTION_POLICY
    assert job["spec"]["activeDeadlineSeconds"] == 1800


def test_rendered_examples_are_accepted_by_the_api_server(cluster: Cluster) -> None:
    for name in RENDERED_ONLY:
        manifest = yaml.safe_load((EXAMPLES / name).read_text())
        manifest["metadata"]["namespace"] = "default"
        result = cluster.kubectl(
            "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(manifest)
        )
        assert "created (server dry run)" in result.stdout


def test_prometheus_example_is_accepted_by_the_api_server(cluster: Cluster) -> None:
    """As written (with its in-cluster URLs), strict field validation on the API server."""
    manifest = yaml.safe_load((EXAMPLES / "prometheus-metrics.yaml").read_text())
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(manifest))
    assert "created (server dry run)" in result.stdout


@pytest.mark.parametrize("name", LOCALLY)
def test_example_runs_locally(tmp_path: Path, name: str) -> None:
    manifest = load(name, {"maxTrials": 2, "parallelTrials": 2})
    manifest["spec"]["limits"].pop("stopAfterTrialsWithoutImprovement", None)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(manifest))
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "run", str(path), "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Complete" in result.stdout
    if name == "multi-objective.yaml":
        assert "Pareto front" in result.stdout
    elif name == "constrained.yaml":  # two trials may both break the size budget
        assert "Best trial" in result.stdout or "No feasible trial" in result.stdout
    else:
        assert "Best trial" in result.stdout
