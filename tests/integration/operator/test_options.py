"""Operator flags: the namespaces it watches and JSON logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Cluster, OperatorProcess, tuningjob


@pytest.fixture(scope="module")
def scoped_operator(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, kube_binaries: dict[str, Path]
) -> Iterator[OperatorProcess]:
    for namespace in ("team-a", "team-b"):
        cluster.kubectl("create", "namespace", namespace)
    cluster.install_operator_rbac(kube_binaries["helm"], {"watchNamespaces": ["team-a"]})
    process = OperatorProcess(
        cluster.sim,
        tmp_path_factory.mktemp("scoped"),
        "--namespace",
        "team-a",
        "--log-format",
        "json",
    ).start()
    yield process
    process.stop()


def in_namespace(name: str, namespace: str) -> dict[str, object]:
    manifest = tuningjob(name, max_trials=2)
    manifest["metadata"]["namespace"] = namespace
    return manifest


def test_watches_only_the_namespaces_it_is_given(
    cluster: Cluster, scoped_operator: OperatorProcess
) -> None:
    cluster.apply(in_namespace("watched", "team-a"))
    cluster.apply(in_namespace("ignored", "team-b"))

    cluster.wait_condition("watched", "Complete", namespace="team-a")
    assert "status" not in cluster.tuningjob("ignored", namespace="team-b")
    assert not cluster.jobs("ignored", namespace="team-b")


def test_logs_are_json_lines(scoped_operator: OperatorProcess) -> None:
    lines = [
        line
        for line in Path(scoped_operator.log_file).read_text().splitlines()
        if line and not line.startswith("--- start")
    ]
    assert lines
    records = [json.loads(line) for line in lines]
    assert all("message" in record for record in records)


def test_kopf_bookkeeping_lives_under_kubetune_io(
    cluster: Cluster, scoped_operator: OperatorProcess
) -> None:
    metadata = cluster.tuningjob("watched", namespace="team-a")["metadata"]
    assert metadata.get("finalizers") == ["kubetune.io/finalizer"]
    annotations = metadata.get("annotations", {})
    assert "kubetune.io/last-handled-configuration" in annotations
    assert [key for key in annotations if "kopf.zalando.org" in key] == []
