"""The real kubectl binary sees Jobs complete and reads their logs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kubernetes import client

from tests.kubesim.harness import KubeSim

from .support import PRINT_VAL_LOSS, job_manifest


def test_kubectl_wait_and_logs(
    sim: KubeSim, batch: client.BatchV1Api, kube_binaries: dict[str, Path]
) -> None:
    batch.create_namespaced_job("default", job_manifest("kwait", PRINT_VAL_LOSS))
    kubectl = [str(kube_binaries["kubectl"]), "--kubeconfig", str(sim.kubeconfig)]
    waited = subprocess.run(
        [*kubectl, "wait", "--for=condition=Complete", "job/kwait", "--timeout=60s"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    assert "condition met" in waited.stdout
    logs = subprocess.run(
        [*kubectl, "logs", "job/kwait"], capture_output=True, text=True, timeout=30, check=False
    )
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == "val_loss=0.1\n"
