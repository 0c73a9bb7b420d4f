"""A tiny kopf operator, run with ``kopf.testing.KopfRunner --standalone`` against kubesim,
reacts to create/update/delete of a custom resource like it would on a real cluster."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from kopf.testing import KopfRunner
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubesim.harness import KubeSim, wait_until

from .conftest import CRD_GROUP

OPERATOR = textwrap.dedent("""
    import json
    import os

    import kopf

    GROUP = "kubesim.example.io"
    RECORD = os.environ["KUBESIM_KOPF_RECORD"]


    @kopf.on.login()
    def login(**_):
        return kopf.ConnectionInfo(server=os.environ["KUBESIM_KOPF_URL"],
                                   default_namespace="default")


    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_):
        settings.watching.server_timeout = 30
        settings.watching.client_timeout = 40
        settings.persistence.finalizer = "kubesim.example.io/kopf"
        settings.posting.level = 100  # no k8s Events: keep the request log about widgets


    @kopf.on.create(GROUP, "v1", "widgets")
    def created(spec, patch, **_):
        patch.status["phase"] = "Created"
        patch.status["seenSize"] = spec["size"]


    @kopf.on.update(GROUP, "v1", "widgets", field="spec.size")
    def resized(new, patch, **_):
        patch.status["seenSize"] = new


    @kopf.on.delete(GROUP, "v1", "widgets")
    def deleted(name, namespace, **_):
        with open(RECORD, "a") as handle:
            handle.write(json.dumps({"deleted": f"{namespace}/{name}"}) + "\\n")
""")


@pytest.fixture
def operator_file(tmp_path: Path, sim: KubeSim, monkeypatch: pytest.MonkeyPatch) -> Path:
    record = tmp_path / "record.jsonl"
    record.touch()
    monkeypatch.setenv("KUBESIM_KOPF_URL", sim.url)
    monkeypatch.setenv("KUBESIM_KOPF_RECORD", str(record))
    path = tmp_path / "operator.py"
    path.write_text(OPERATOR)
    return path


def _status(custom: client.CustomObjectsApi, ns: str, name: str) -> dict:
    obj = custom.get_namespaced_custom_object(CRD_GROUP, "v1", ns, "widgets", name)
    return obj.get("status") or {}


def test_kopf_operator_reacts_to_create_update_delete(
    operator_file: Path, custom: client.CustomObjectsApi, widgets: str, ns: str, sim: KubeSim
) -> None:
    record = operator_file.parent / "record.jsonl"
    args = ["run", "--standalone", "--namespace", ns, "--verbose", str(operator_file)]
    with KopfRunner(args, timeout=60) as runner:
        custom.create_namespaced_custom_object(
            CRD_GROUP,
            "v1",
            ns,
            "widgets",
            {
                "apiVersion": f"{CRD_GROUP}/v1",
                "kind": "Widget",
                "metadata": {"name": "k1"},
                "spec": {"size": 2},
            },
        )
        wait_until(
            lambda: _status(custom, ns, "k1").get("phase") == "Created",
            timeout=20,
            message="kopf create handler",
        )
        assert _status(custom, ns, "k1")["seenSize"] == 2
        obj = custom.get_namespaced_custom_object(CRD_GROUP, "v1", ns, "widgets", "k1")
        assert "kubesim.example.io/kopf" in obj["metadata"]["finalizers"]

        custom.patch_namespaced_custom_object(
            CRD_GROUP, "v1", ns, "widgets", "k1", {"spec": {"size": 5}}
        )
        wait_until(
            lambda: _status(custom, ns, "k1").get("seenSize") == 5,
            timeout=20,
            message="kopf update handler",
        )

        custom.delete_namespaced_custom_object(CRD_GROUP, "v1", ns, "widgets", "k1")

        def gone() -> bool:
            try:
                custom.get_namespaced_custom_object(CRD_GROUP, "v1", ns, "widgets", "k1")
            except ApiException as exc:
                return exc.status == 404
            return False

        wait_until(gone, timeout=20, message="kopf removed its finalizer")
        records = [json.loads(line) for line in record.read_text().splitlines()]
        assert records == [{"deleted": f"{ns}/k1"}]
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None

    kopf_calls = [
        r
        for r in sim.requests(resource="widgets", namespace=ns)
        if r["userAgent"].startswith("kopf")
    ]
    verbs = {(r["verb"], r["subresource"]) for r in kopf_calls}
    assert ("watch", "") in verbs
    assert ("patch", "status") in verbs or ("patch", "") in verbs
    assert all(r["code"] < 400 for r in kopf_calls)
