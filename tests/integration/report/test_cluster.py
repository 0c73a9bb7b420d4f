"""Reports, the kubectl plugin and the dashboard against a TuningJob on the emulated cluster,
run by the real operator; `kubectl tune` is found by the real kubectl on PATH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetune.cli.main import cli

from tests.chromium import chromium_page
from tests.integration.operator.conftest import cluster, operator, sim
from tests.integration.operator.harness import Cluster, OperatorProcess, eventually

from .support import assert_every_plot_has_data, drawn_plots, manifest

__all__ = ["cluster", "operator", "sim"]  # the emulator and operator fixtures, per module

REPO_ROOT = Path(__file__).resolve().parents[3]
NAME = "clustered"


def plugin_bin(directory: Path) -> Path:
    """A ``kubectl-tune`` executable calling the entry point pyproject.toml declares (what
    ``pip install`` writes into the environment's bin directory)."""
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["kubectl-tune"].split(":")
    path = directory / "kubectl-tune"
    path.write_text(f"#!{sys.executable}\nfrom {module} import {function}\n{function}()\n")
    path.chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def finished(cluster: Cluster, operator: OperatorProcess) -> dict[str, Any]:
    diagnosis = {"trainMetric": "train-rmse", "testMetric": "test-rmse", "baseline": 0.1}
    document = manifest(NAME, "variance", max_trials=4, spec={"diagnosis": diagnosis})
    document["metadata"]["namespace"] = "default"
    document["spec"]["limits"]["parallelTrials"] = 2
    cluster.apply(document)
    cluster.wait_condition(NAME, "Complete", timeout=180)
    return cluster.tuningjob(NAME)


@pytest.fixture(scope="module")
def kubectl_tune(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    bin_dir = plugin_bin(tmp_path_factory.mktemp("bin"))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("KUBECONFIG", None)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(cluster.kubectl_path), "tune", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"kubectl tune {args}:\n{result.stdout}\n{result.stderr}"
        return result

    return run


def kubetune(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"kubetune {args}:\n{result.stdout}\n{result.stderr}"
    return result


def journal_versions(cluster: Cluster) -> dict[str, str]:
    listed = cluster.core.list_namespaced_config_map(
        "default", label_selector=f"kubetune.io/tuningjob={NAME}"
    )
    return {c.metadata.name: c.metadata.resource_version for c in listed.items}


def test_cluster_report_reads_the_journal_read_only(
    cluster: Cluster, finished: dict[str, Any], tmp_path: Path
) -> None:
    before = journal_versions(cluster)
    assert before, "the study journal has no ConfigMap"
    since = len(cluster.sim.requests())
    page_file = tmp_path / "cluster.html"
    shown = kubetune(
        "report",
        f"tuningjob/{NAME}",
        "--kubeconfig",
        str(cluster.sim.kubeconfig),
        "--html",
        str(page_file),
    ).stdout
    assert "Best trial" in shown
    assert "Complete: MaxTrialsReached" in shown
    assert "Diagnosis (best trial" in shown
    assert journal_versions(cluster) == before
    ours = [
        r
        for r in cluster.sim.requests(since)
        if str(r.get("userAgent", "")).startswith("kubectl-tune/")
    ]
    assert ours, "the report made no request with its user agent"
    assert {r["verb"] for r in ours} <= {"get", "list"}, ours
    with chromium_page() as page:
        page.open(page_file.as_uri())
        plots = drawn_plots(page)
        assert {"history-0", "parallel-0", "importance-0", "slice-0"} <= set(plots)
        assert_every_plot_has_data(plots)
        assert not page.errors()


def test_status_diagnosis_once_the_study_finished(finished: dict[str, Any]) -> None:
    diagnosis = finished["status"]["diagnosis"]
    assert diagnosis["verdict"] == "highVariance"
    assert diagnosis["trial"] == finished["status"]["bestTrial"]["number"]
    assert diagnosis["message"].startswith("validation error ")
    assert "variance (validation - train)" in diagnosis["message"]


def test_plugin_list_honours_namespace_context_and_kubeconfig(
    cluster: Cluster, finished: dict[str, Any], kubectl_tune: Any, tmp_path: Path
) -> None:
    kubeconfig = str(cluster.sim.kubeconfig)
    listed = kubectl_tune("list", "--kubeconfig", kubeconfig).stdout
    assert re.search(
        rf"^{NAME}\s+Complete \(MaxTrialsReached\)\s+4/4\s+validation-rmse=", listed, re.M
    ), listed
    # -n before the command, as `kubectl tune -n NS list`
    other = kubectl_tune("-n", "kube-system", "list", "--kubeconfig", kubeconfig)
    assert NAME not in other.stdout
    assert "No TuningJobs found" in other.stderr
    # The context's namespace is the default, as for kubectl.
    config = yaml.safe_load(Path(kubeconfig).read_text())
    context = config["contexts"][0]
    elsewhere = {**context, "name": "elsewhere"}
    elsewhere["context"] = {**context["context"], "namespace": "kube-system"}
    config["contexts"].append(elsewhere)
    edited = tmp_path / "kubeconfig"
    edited.write_text(yaml.safe_dump(config))
    shown = kubectl_tune("list", "--kubeconfig", str(edited), "--context", "elsewhere")
    assert NAME not in shown.stdout
    assert (
        NAME
        in kubectl_tune(
            "list", "--kubeconfig", str(edited), "--context", "elsewhere", "-n", "default"
        ).stdout
    )
    assert NAME in kubectl_tune("list", "-A", "--kubeconfig", str(edited)).stdout
    missing = kubectl_tune("list", "--kubeconfig", kubeconfig, "--context", "nope", check=False)
    assert missing.returncode == 1
    assert "nope" in missing.stderr


def test_plugin_describe_report_and_logs(
    cluster: Cluster, finished: dict[str, Any], kubectl_tune: Any, tmp_path: Path
) -> None:
    kubeconfig = ("--kubeconfig", str(cluster.sim.kubeconfig))
    described = kubectl_tune("describe", NAME, *kubeconfig).stdout
    best = finished["status"]["bestTrial"]
    assert re.search(r"^\s+Complete\s+True\s+MaxTrialsReached\s", described, re.M), described
    assert "succeeded 4" in described
    assert "total 4" in described
    assert f"Best trial:  {best['name']} (#{best['number']})" in described
    assert "Top trials (of 4 complete):" in described
    assert "Diagnosis:   highVariance: validation error" in described
    assert re.search(rf"^\s+{best['number']}\s+", described.split("Top trials")[1], re.M)

    page_file = tmp_path / "plugin.html"
    reported = kubectl_tune("report", NAME, "--html", str(page_file), *kubeconfig).stdout
    assert "Trials of clustered" in reported
    assert page_file.stat().st_size > 1_000_000

    log = kubectl_tune("logs", NAME, str(best["number"]), *kubeconfig).stdout
    assert "validation-rmse=" in log
    assert "train-rmse=" in log
    absent = kubectl_tune("logs", NAME, "99", *kubeconfig, check=False)
    assert absent.returncode == 1
    assert "trial 99 of clustered has no pod" in absent.stderr


def test_plugin_clone_delegates_to_kubetune_clone(
    cluster: Cluster, finished: dict[str, Any], kubectl_tune: Any
) -> None:
    result = kubectl_tune(
        "clone", NAME, "--refine", "--kubeconfig", str(cluster.sim.kubeconfig), check=False
    )
    if "clone" in cli.commands:  # issue 13's command has landed: the plugin hands over to it
        assert result.returncode == 0, result.stderr
        cloned = yaml.safe_load(result.stdout)
        assert cloned["kind"] == "TuningJob"
        assert cloned["metadata"]["name"] != NAME
    else:
        assert result.returncode == 1
        assert "no `kubetune clone` command" in result.stderr


def test_dashboard_follows_the_cluster_study_while_extend_adds_trials(
    cluster: Cluster, finished: dict[str, Any], kubectl_tune: Any, tmp_path: Path
) -> None:
    kubeconfig = str(cluster.sim.kubeconfig)
    plugin_dir = plugin_bin(tmp_path)
    env = {**os.environ, "PATH": f"{plugin_dir}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(
        [
            str(cluster.kubectl_path),
            "tune",
            "dashboard",
            NAME,
            "--port",
            "0",
            "--kubeconfig",
            kubeconfig,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = re.search(r"http://\S+/", line)
        assert url, (
            f"no URL in {line!r}: {server.stderr.read() if server.poll() is not None else ''}"
        )

        def trials() -> list[dict[str, Any]]:
            with urllib.request.urlopen(url.group(0) + "api/studies", timeout=10) as r:
                studies = json.load(r)["study_summaries"]
            study = next(s for s in studies if s["study_name"] == NAME)
            with urllib.request.urlopen(
                f"{url.group(0)}api/studies/{study['study_id']}", timeout=10
            ) as r:
                return list(json.load(r)["trials"])

        assert len(trials()) == 4
        extended = kubectl_tune("extend", NAME, "--max-trials", "6", "--kubeconfig", kubeconfig)
        assert "maxTrials 4 -> 6" in extended.stdout
        eventually(
            lambda: sum(t["state"] == "Complete" for t in trials()) == 6,
            timeout=180,
            message="the dashboard shows the 2 trials extend added",
        )
        refused = kubectl_tune(
            "extend", NAME, "--max-trials", "5", "--kubeconfig", kubeconfig, check=False
        )
        assert refused.returncode == 1
        assert "more than the current maxTrials 6" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
