"""The entry point and the test harness: kubeconfig shape, --nodes, lifecycle, failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tests.kubesim.harness import KubeSim


def test_kubeconfig_nodes_file_and_shutdown(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(  # the format of tests/kubesim/cluster/nodes.py
        yaml.safe_dump({"nodes": [{"name": "from-file", "labels": {"pool": "test"}}]})
    )
    sim = KubeSim(controllers=False, nodes=nodes, work_dir=tmp_path / "sim")
    with sim:
        kubeconfig = yaml.safe_load(sim.kubeconfig.read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"] == sim.url
        assert sim.url.startswith("http://127.0.0.1:")
        assert sim.port > 0
        context = kubeconfig["contexts"][0]["context"]
        assert context["namespace"] == "default"
        assert kubeconfig["users"][0]["user"] == {}
        api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        names = [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
        api.close()
        assert "from-file" in names
        assert sim.state()["counts"]["namespaces"] >= 2
        process = sim.process
    assert process is not None
    assert process.returncode == 0


def test_startup_failure_is_reported(tmp_path: Path) -> None:
    sim = KubeSim(controllers=False, work_dir=tmp_path, extra_args=["--history-size", "x"])
    with pytest.raises(RuntimeError, match="exited"):
        sim.start()
