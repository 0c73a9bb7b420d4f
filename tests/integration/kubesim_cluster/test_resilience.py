"""The controllers behave like real API clients: they identify themselves, survive dropped
watches, expired resourceVersions and server errors, and leave no processes behind."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config

from tests.kubesim.harness import KubeSim, wait_until

from .support import (
    PRINT_VAL_LOSS,
    job_manifest,
    job_pods,
    wait_job_condition,
    wait_log_line,
    wait_pids_gone,
)

SLEEP_TREE = ["sh", "-c", "sleep 300 & echo child=$!; echo main=$$$$; wait"]
COMPONENTS = ("job-controller", "scheduler", "node-lifecycle", "kubelet")


def test_requests_carry_component_user_agents(
    sim: KubeSim, batch: client.BatchV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("ua", PRINT_VAL_LOSS))
    wait_job_condition(batch, ns, "ua", "Complete")
    agents = {r["userAgent"] for r in sim.requests() if r["userAgent"].startswith("kubesim")}
    assert agents == {f"kubesim-controller/{c}" for c in COMPONENTS}
    watchers = {w.get("userAgent") for w in sim.watches()}
    assert {f"kubesim-controller/{c}" for c in COMPONENTS} <= watchers


def test_survives_dropped_watches_and_compaction(
    sim: KubeSim, batch: client.BatchV1Api, ns: str
) -> None:
    sim.compact()
    assert sim.drop_watches(user_agent_regex="^kubesim-controller/") >= 3
    batch.create_namespaced_job(ns, job_manifest("after-drop", PRINT_VAL_LOSS))
    wait_job_condition(batch, ns, "after-drop", "Complete")
    sim.drop_watches(user_agent_regex="^kubesim-controller/", abort=True)
    sim.compact()
    batch.create_namespaced_job(ns, job_manifest("after-abort", PRINT_VAL_LOSS))
    wait_job_condition(batch, ns, "after-abort", "Complete")


def test_retries_server_errors_and_throttling(
    sim: KubeSim, core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    sim.faults(
        user_agent_regex="job-controller",
        verb="create",
        resource="pods",
        namespace=ns,
        status=500,
        count=2,
    )
    sim.faults(
        user_agent_regex="scheduler",
        subresource="binding",
        namespace=ns,
        status=429,
        retry_after=1,
        count=1,
    )
    sim.faults(user_agent_regex="kubelet", subresource="status", namespace=ns, status=503, count=2)
    batch.create_namespaced_job(ns, job_manifest("flaky", PRINT_VAL_LOSS))
    wait_job_condition(batch, ns, "flaky", "Complete")
    assert len(job_pods(core, ns, "flaky")) == 1
    statuses = [
        r["code"]
        for r in sim.requests(namespace=ns)
        if r["userAgent"].startswith("kubesim-controller/")
    ]
    assert statuses.count(500) == 2
    assert statuses.count(429) == 1
    assert statuses.count(503) == 2


def test_stopping_the_emulator_kills_running_containers(tmp_path: Path) -> None:
    with KubeSim(work_dir=tmp_path) as sim:
        api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        batch.create_namespaced_job("default", job_manifest("long", SLEEP_TREE))
        pod = wait_until(lambda: job_pods(core, "default", "long"), message="pod")[0]
        match = wait_log_line(core, "default", pod.metadata.name, r"child=(\d+)\s+main=(\d+)")
        api.close()
    wait_pids_gone([int(match[1]), int(match[2])])
