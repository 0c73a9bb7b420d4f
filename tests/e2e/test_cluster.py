"""A real cluster runs the quickstart TuningJob to completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"
KUBECTL = shutil.which("kubectl") or "kubectl"


def kubectl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [KUBECTL, *args], input=stdin, capture_output=True, text=True, check=True, timeout=900
    ).stdout


def test_quickstart_completes_on_a_real_cluster() -> None:
    namespace = os.environ.get("KUBETUNE_E2E_NAMESPACE", "default")
    manifest = yaml.safe_load(EXAMPLE.read_text())
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    manifest["metadata"] = {"name": name, "namespace": namespace}
    manifest["spec"]["limits"].update({"maxTrials": 4, "parallelTrials": 2})
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    try:
        kubectl(
            "wait",
            "-n",
            namespace,
            "--for=condition=Complete",
            f"tuningjob/{name}",
            "--timeout=600s",
        )
        status = json.loads(kubectl("get", "-n", namespace, "tuningjob", name, "-o", "json"))[
            "status"
        ]
        assert status["trials"]["succeeded"] >= 1
        assert status["bestTrial"]["objective"] > 0
    finally:
        kubectl("delete", "-n", namespace, "tuningjob", name, "--wait=false")
