"""pods/log served from container_log_path, server-side Table output, fault injection and
the request log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubesim.harness import KubeSim

from .conftest import Raw

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _pod(
    core: client.CoreV1Api, ns: str, name: str, containers: tuple[str, ...] = ("main",)
) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": name},
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
        },
    )


def test_logs_waiting_then_served(core: client.CoreV1Api, sim: KubeSim, ns: str) -> None:
    _pod(core, ns, "p")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("p", ns)
    assert exc.value.status == 400
    message = json.loads(exc.value.body)["message"]
    assert message == 'container "main" in pod "p" is waiting to start: ContainerCreating'
    sim.write_container_log(ns, "p", "main", "one\ntwo\nthree\n")
    assert core.read_namespaced_pod_log("p", ns) == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("p", ns, tail_lines=2) == "two\nthree\n"
    assert core.read_namespaced_pod_log("p", ns, container="main", limit_bytes=3) == "one"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("missing", ns)
    assert exc.value.status == 404


def test_logs_container_choice_and_timestamps(
    core: client.CoreV1Api, sim: KubeSim, ns: str
) -> None:
    _pod(core, ns, "multi", ("a", "b"))
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("multi", ns)
    assert exc.value.status == 400
    assert "a container name must be specified" in json.loads(exc.value.body)["message"]
    sim.write_container_log(
        ns, "multi", "b", "2020-01-01T00:00:00.000000000Z old\n2999-01-01T00:00:00.000000000Z new\n"
    )
    assert core.read_namespaced_pod_log("multi", ns, container="b") == "old\nnew\n"
    stamped = core.read_namespaced_pod_log("multi", ns, container="b", timestamps=True)
    assert stamped.startswith("2020-01-01T00:00:00.000000000Z old")
    recent = core.read_namespaced_pod_log("multi", ns, container="b", since_seconds=60)
    assert recent == "new\n"
    # Only "\n" ends a line: a progress bar's "\r" stays inside its timestamped line.
    text = "2020-01-01T00:00:00.000000000Z 10%\r100%\n2999-01-01T00:00:00.000000000Z done\n"
    sim.write_container_log(ns, "multi", "a", text)
    assert core.read_namespaced_pod_log("multi", ns, container="a") == "10%\r100%\ndone\n"
    recent = core.read_namespaced_pod_log("multi", ns, container="a", since_seconds=60)
    assert recent == "done\n"
    stamped = core.read_namespaced_pod_log("multi", ns, container="a", timestamps=True)
    assert stamped == text
    # No run of the container ended yet: nothing for previous=true.
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("multi", ns, container="a", previous=True)
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["message"] == (
        'previous terminated container "a" in pod "multi" not found'
    )


def test_follow_ends_when_container_terminates(
    core: client.CoreV1Api, sim: KubeSim, ns: str
) -> None:
    _pod(core, ns, "f")
    sim.write_container_log(ns, "f", "main", "start\n")

    def kubelet() -> None:
        time.sleep(0.3)
        sim.write_container_log(ns, "f", "main", "middle\n", append=True)
        time.sleep(0.3)
        sim.write_container_log(ns, "f", "main", "end\n", append=True)
        core.patch_namespaced_pod_status(
            "f",
            ns,
            {
                "status": {
                    "phase": "Succeeded",
                    "containerStatuses": [
                        {
                            "name": "main",
                            "ready": False,
                            "restartCount": 0,
                            "image": "busybox",
                            "imageID": "",
                            "state": {"terminated": {"exitCode": 0}},
                        }
                    ],
                }
            },
        )

    thread = threading.Thread(target=kubelet, daemon=True)
    thread.start()
    started = time.monotonic()
    response = core.read_namespaced_pod_log(
        "f", ns, follow=True, _preload_content=False, _request_timeout=10
    )
    lines: Iterator[bytes] = response.stream()
    text = b"".join(lines).decode()
    thread.join()
    assert text == "start\nmiddle\nend\n"
    assert time.monotonic() - started < 5


def test_tables_for_builtins(
    core: client.CoreV1Api, batch: client.BatchV1Api, raw: Raw, ns: str
) -> None:
    _pod(core, ns, "tp")
    status, table = raw("GET", f"/api/v1/namespaces/{ns}/pods", accept=TABLE)
    assert status == 200
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][:3] == ["tp", "0/1", "Pending"]
    assert table["rows"][0]["object"]["metadata"]["name"] == "tp"

    batch.create_namespaced_job(
        ns,
        {
            "metadata": {"name": "tj"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
                }
            },
        },
    )
    batch.patch_namespaced_job_status(
        "tj",
        ns,
        {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}},
    )
    _, jobs = raw("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/tj", accept=TABLE)
    assert [c["name"] for c in jobs["columnDefinitions"]][:3] == ["Name", "Status", "Completions"]
    assert jobs["rows"][0]["cells"][:3] == ["tj", "Complete", "1/1"]

    _, nodes = raw("GET", "/api/v1/nodes", accept=TABLE)
    assert nodes["rows"][0]["cells"][1] == "Ready"


def test_fault_injection_and_request_log(
    core: client.CoreV1Api, raw: Raw, sim: KubeSim, ns: str
) -> None:
    sim.faults(verb="list", resource="configmaps", namespace=ns, status=500, count=1)
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(ns)
    assert exc.value.status == 500
    assert core.list_namespaced_config_map(ns).items == []  # only the first one failed

    sim.faults(verb="create", resource="secrets", status=429, retry_after=3, count=1)
    status, body = raw("POST", f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "s"}})
    assert status == 429
    assert body["reason"] == "TooManyRequests"
    assert body["details"]["retryAfterSeconds"] == 3

    sim.faults(path_regex=f"/namespaces/{ns}/configmaps/slow$", latency_ms=400, count=1)
    started = time.monotonic()
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("slow", ns)
    assert time.monotonic() - started >= 0.4

    sim.faults(user_agent_regex="^kubesim-tests$", status=409, count=-1)
    assert raw("GET", f"/api/v1/namespaces/{ns}/configmaps")[0] == 409
    sim.clear_faults()
    assert raw("GET", f"/api/v1/namespaces/{ns}/configmaps")[0] == 200

    log = sim.requests(namespace=ns, resource="configmaps")
    verbs = [(r["verb"], r["code"]) for r in log]
    assert ("list", 500) in verbs
    assert ("list", 200) in verbs
    assert ("get", 404) in verbs
    assert ("list", 409) in verbs
    assert any(r["userAgent"].startswith("OpenAPI-Generator") for r in log)
    posts = sim.requests(namespace=ns, resource="secrets", verb="create")
    assert [p["code"] for p in posts] == [429]


def test_request_log_classifies_verbs(core: client.CoreV1Api, sim: KubeSim, ns: str) -> None:
    mark = sim.requests()[-1]["seq"]
    core.create_namespaced_pod(
        ns,
        {"metadata": {"name": "rl"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )
    core.patch_namespaced_pod_status("rl", ns, {"status": {"phase": "Running"}})
    core.replace_namespaced_pod("rl", ns, core.read_namespaced_pod("rl", ns))
    core.delete_collection_namespaced_pod(ns)
    seen = [
        (r["verb"], r["resource"], r["subresource"], r["name"])
        for r in sim.requests(since=mark, namespace=ns)
    ]
    assert seen == [
        ("create", "pods", "", ""),
        ("patch", "pods", "status", "rl"),
        ("get", "pods", "", "rl"),
        ("update", "pods", "", "rl"),
        ("deletecollection", "pods", "", ""),
    ]


def test_follow_ends_when_pod_is_deleted(core: client.CoreV1Api, sim: KubeSim, ns: str) -> None:
    _pod(core, ns, "gone")
    sim.write_container_log(ns, "gone", "main", "only line\n")

    def delete_later() -> None:
        time.sleep(0.3)
        core.delete_namespaced_pod("gone", ns)

    thread = threading.Thread(target=delete_later, daemon=True)
    thread.start()
    started = time.monotonic()
    response = core.read_namespaced_pod_log(
        "gone", ns, follow=True, _preload_content=False, _request_timeout=10
    )
    assert b"".join(response.stream()).decode() == "only line\n"
    thread.join()
    assert time.monotonic() - started < 5
