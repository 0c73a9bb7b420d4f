"""``--nodes FILE``: the emulator registers the configured nodes and schedules against them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tests.kubesim.cluster.nodes import NodeConfigError, load_nodes
from tests.kubesim.harness import REPO_ROOT, KubeSim, wait_until

from .support import PRINT_VAL_LOSS, job_manifest, job_pods, wait_job_condition

NODES = """\
nodes:
  - name: trainer
    labels: {pool: train}
    taints: [{key: dedicated, value: ml, effect: NoExecute}]
    capacity: {cpu: 8, memory: 32Gi, nvidia.com/gpu: 2}
"""


def test_configured_nodes_are_used(tmp_path: Path) -> None:
    nodes_file = tmp_path / "nodes.yaml"
    nodes_file.write_text(NODES)
    with KubeSim(nodes=nodes_file, work_dir=tmp_path / "sim") as sim:
        api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        try:
            core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
            [node] = core.list_node().items
            assert node.metadata.name == "trainer"
            assert node.metadata.labels["pool"] == "train"
            assert node.status.allocatable["nvidia.com/gpu"] == "2"
            toleration = {
                "key": "dedicated",
                "operator": "Equal",
                "value": "ml",
                "effect": "NoExecute",
            }

            def gpu_job(name: str, gpus: str) -> dict[str, object]:
                return job_manifest(
                    name,
                    PRINT_VAL_LOSS,
                    container={"resources": {"limits": {"nvidia.com/gpu": gpus}}},
                    pod_spec={"tolerations": [toleration], "nodeSelector": {"pool": "train"}},
                )

            batch.create_namespaced_job("default", gpu_job("fits", "2"))
            batch.create_namespaced_job("default", gpu_job("too-big", "3"))
            wait_job_condition(batch, "default", "fits", "Complete")
            assert job_pods(core, "default", "fits")[0].spec.node_name == "trainer"

            def pending_message() -> str | None:
                pods = job_pods(core, "default", "too-big")
                for condition in (pods[0].status.conditions or []) if pods else []:
                    if condition.type == "PodScheduled" and condition.status == "False":
                        return str(condition.message)
                return None

            assert wait_until(pending_message, message="too-big unschedulable") == (
                "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
            )
        finally:
            api.close()


def test_help_describes_the_node_config_format(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.kubesim", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    help_text = " ".join(result.stdout.split())  # argparse wraps lines
    assert "--nodes FILE" in help_text
    for word in ("nodes:", "name", "labels", "taints", "capacity", "cluster/nodes.py"):
        assert word in help_text, word
    # What the help describes is what --nodes reads; a list of Node objects is refused.
    path = tmp_path / "nodes.yaml"
    path.write_text(NODES)
    [node] = load_nodes(path)
    assert node["metadata"]["name"] == "trainer"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}))
    with pytest.raises(NodeConfigError, match="'nodes'"):
        load_nodes(path)
