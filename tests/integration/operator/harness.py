"""The operator as it runs in production: an unmodified ``kubetune operator`` process talking
HTTP to the Kubernetes API emulator, plus helpers to drive it with kubectl and the client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import yaml

from tests.kubesim.harness import KubeSim, wait_until
from tests.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
CRD = REPO_ROOT / "crds" / "tuningjobs.kubetune.io.yaml"
TRIAL_SCRIPT = Path(__file__).with_name("trial.py")
T = TypeVar("T")


LEASE_NAMESPACE = "kubetune"  # where the chart installs the operator, so its Role holds there


def operator_kubeconfig(sim: KubeSim) -> Path:
    """Where :meth:`Cluster.install_operator_rbac` writes the ServiceAccount's kubeconfig."""
    return sim.work_dir / "operator-kubeconfig"


class OperatorProcess:
    """``kubetune operator`` as a subprocess that tests may kill (SIGKILL) and restart.

    It elects itself leader through the Lease in ``LEASE_NAMESPACE`` as the chart's pods do;
    ``identity`` plays the pod name: a restart is the same pod's container restarting, a second
    OperatorProcess (another identity) a second replica. It authenticates as the chart's
    ServiceAccount under the chart's rendered RBAC, which the emulator enforces:
    :meth:`Cluster.install_operator_rbac` must have run first."""

    def __init__(
        self,
        sim: KubeSim,
        work_dir: Path,
        *extra: str,
        identity: str = "operator-0",
        env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = operator_kubeconfig(sim)
        if not self.kubeconfig.exists():
            raise RuntimeError("install the chart's RBAC first: Cluster.install_operator_rbac()")
        self.sim = sim
        self.env = dict(env or {})
        self.identity = identity
        self.log_file = work_dir / f"{identity}.log"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    def start(self, wait_ready: bool = True) -> OperatorProcess:
        self.port = free_port()
        _ensure_namespace(self.sim, LEASE_NAMESPACE)
        command = [
            sys.executable,
            "-m",
            "kubetune.cli",
            "operator",
            "--kubeconfig",
            str(self.kubeconfig),
            "--health-port",
            str(self.port),
            "--lease-namespace",
            LEASE_NAMESPACE,
            *self.extra,
        ]
        env = dict(os.environ, POD_NAME=self.identity, **self.env)
        with self.log_file.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        self.starts += 1
        if wait_ready:
            wait_until(self.ready, timeout=30, message=f"operator ready\n{self.log_tail()}")
        return self

    def leading(self) -> bool:
        """Whether this process holds the Lease (its /readyz says ``ok``, not ``standby``)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                return bool(r.read() == b"ok")
        except OSError:
            return False

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"operator exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a node dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _ensure_namespace(sim: KubeSim, name: str) -> None:
    api = kubernetes.config.new_client_from_config(config_file=str(sim.kubeconfig))
    core = kubernetes.client.CoreV1Api(api)
    try:
        core.create_namespace({"metadata": {"name": name}})
    except kubernetes.client.ApiException as error:
        if error.status != 409:
            raise


class Cluster:
    """kubectl and the official client against one emulator."""

    def __init__(self, sim: KubeSim, kubectl: Path) -> None:
        self.sim = sim
        self.kubectl_path = kubectl
        api = kubernetes.config.new_client_from_config(config_file=str(sim.kubeconfig))
        self.core = kubernetes.client.CoreV1Api(api)
        self.batch = kubernetes.client.BatchV1Api(api)
        self.custom = kubernetes.client.CustomObjectsApi(api)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.kubectl_path), "--kubeconfig", str(self.sim.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def install_operator_rbac(self, helm: Path, values: dict[str, Any] | None = None) -> Path:
        """Apply the chart's ServiceAccount, (Cluster)Roles and bindings rendered with
        ``values`` and write a kubeconfig holding a token of that ServiceAccount (TokenRequest).
        Re-rendering replaces the rules: one RBAC mode at a time per emulator."""
        from tests.integration.chart.support import (  # the chart tests import this module
            RELEASE_NAMESPACE,
            SERVICE_ACCOUNT,
            render,
        )

        values = values or {}
        for namespace in [RELEASE_NAMESPACE, *values.get("watchNamespaces", [])]:
            if self.kubectl("get", "namespace", namespace, check=False).returncode != 0:
                self.kubectl("create", "namespace", namespace)
        kinds = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
        objects = [o for o in render(helm, values) if o["kind"] in kinds]
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
        token = self.kubectl(
            "create", "token", SERVICE_ACCOUNT, "-n", RELEASE_NAMESPACE, "--duration=24h"
        ).stdout.strip()
        config = yaml.safe_load(self.sim.kubeconfig.read_text())
        config["users"] = [{"name": "kubesim", "user": {"token": token}}]
        path = operator_kubeconfig(self.sim)
        path.write_text(yaml.safe_dump(config))
        return path

    def apply(
        self, manifest: dict[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest), check=check)

    def tuningjob(self, name: str, namespace: str = "default") -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            "kubetune.io", "v1alpha1", namespace, "tuningjobs", name
        )
        return obj

    def any_condition(
        self, name: str, type_: str, namespace: str = "default"
    ) -> dict[str, Any] | None:
        """The TuningJob's condition of type ``type_``, whatever its status."""
        status = self.tuningjob(name, namespace).get("status") or {}
        for item in status.get("conditions") or []:
            if item["type"] == type_:
                return dict(item)
        return None

    def condition(self, name: str, type_: str, namespace: str = "default") -> dict[str, Any] | None:
        """The TuningJob's condition of type ``type_`` if it is True."""
        item = self.any_condition(name, type_, namespace)
        return item if item is not None and item["status"] == "True" else None

    def wait_condition(
        self, name: str, type_: str, timeout: float = 120, namespace: str = "default"
    ) -> dict[str, Any]:
        return wait_until(
            lambda: self.condition(name, type_, namespace),
            timeout=timeout,
            message=f"TuningJob {name} condition {type_}",
        )

    def jobs(self, tuningjob: str, namespace: str = "default") -> list[dict[str, Any]]:
        """Trial Jobs as plain dicts (the typed client model rejects int quantities)."""
        listed: dict[str, Any] = self.custom.list_namespaced_custom_object(
            "batch", "v1", namespace, "jobs", label_selector=f"kubetune.io/tuningjob={tuningjob}"
        )
        return list(listed["items"])

    def events(self, name: str, namespace: str = "default") -> list[Any]:
        return [
            e
            for e in self.core.list_namespaced_event(namespace).items
            if e.involved_object and e.involved_object.name == name
        ]


def tuningjob(
    name: str,
    mode: str = "ok",
    max_trials: int = 4,
    parallel: int = 2,
    limits: dict[str, Any] | None = None,
    pod_spec: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A TuningJob whose trials run ``trial.py`` (a real process printing real metrics)."""
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "objective": {
                "metric": "loss",
                "direction": "minimize",
                "additionalMetrics": ["accuracy"],
            },
            "parameters": [
                {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
                {"name": "layers", "type": "int", "min": 1, "max": 4},
            ],
            "strategy": {"algorithm": "random", "seed": 1},
            "limits": {"maxTrials": max_trials, "parallelTrials": parallel, **(limits or {})},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "example.com/trial:1",
                                    "command": [
                                        "python",
                                        str(TRIAL_SCRIPT),
                                        f"--mode={mode}",
                                        "--x=${params.x}",
                                        "--layers=${params.layers}",
                                    ],
                                    **(container or {}),
                                }
                            ],
                            **(pod_spec or {}),
                        }
                    }
                }
            },
            **(spec or {}),
        },
    }


def jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def eventually(
    predicate: Callable[[], T], timeout: float = 60, message: str | Callable[[], str] = "condition"
) -> T:
    return wait_until(predicate, timeout=timeout, message=message)


def assert_exactly_once(cluster: Cluster, name: str, trials: int, since: int) -> None:
    """Every trial ran as one Job, created once, and was recorded once (as succeeded)."""
    status = cluster.tuningjob(name)["status"]
    assert status["trials"]["total"] == trials
    assert status["trials"]["succeeded"] == trials
    names = sorted(j["metadata"]["name"] for j in cluster.jobs(name))
    assert names == sorted(f"{name}-{n}" for n in range(trials))
    creates = [
        r
        for r in cluster.sim.requests(since=since, verb="create", resource="jobs")
        if r["code"] == 201 and r["userAgent"].startswith("kubetune")
    ]
    assert len(creates) == trials, "a trial Job was created twice"
