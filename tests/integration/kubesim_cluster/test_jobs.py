"""Jobs run for real: pods are created, scheduled, run as local processes, and counted."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from kubernetes import client, watch

from tests.kubesim.harness import REPO_ROOT, wait_until

from .support import (
    PRINT_VAL_LOSS,
    job_manifest,
    job_pods,
    wait_job_condition,
    wait_log_line,
    wait_pids_gone,
    wait_pod_phase,
)

# Prints a background child's pid and its own, then waits: a process tree to kill. (``$$$$``
# because Kubernetes turns ``$$`` in command/args into ``$`` before the shell sees it.)
SLEEP_TREE = ["sh", "-c", "sleep 300 & echo child=$!; echo main=$$$$; wait"]


def _tree_pids(core: client.CoreV1Api, ns: str, pod: str) -> list[int]:
    match = wait_log_line(core, ns, pod, r"child=(\d+)\s+main=(\d+)")
    return [int(match[1]), int(match[2])]


def test_job_completes_with_log_status_and_owner(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("ok", PRINT_VAL_LOSS))
    complete = wait_job_condition(batch, ns, "ok", "Complete")
    assert complete.reason == "CompletionsReached"

    job = batch.read_namespaced_job_status("ok", ns)
    assert job.status.succeeded == 1
    assert not job.status.active
    assert not job.status.failed
    assert job.status.start_time is not None
    assert job.status.completion_time is not None
    types = {c.type: c.status for c in job.status.conditions}
    assert types == {"SuccessCriteriaMet": "True", "Complete": "True"}

    [pod] = job_pods(core, ns, "ok")
    assert re.fullmatch(r"ok-[a-z0-9]{5}", pod.metadata.name)
    [owner] = pod.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == ("Job", "ok", job.metadata.uid)
    assert owner.controller
    assert owner.block_owner_deletion
    assert pod.metadata.labels["job-name"] == "ok"
    assert pod.spec.node_name in ("cpu-1", "cpu-2")
    assert pod.status.phase == "Succeeded"
    assert pod.status.pod_ip == "127.0.0.1"
    assert pod.status.start_time is not None
    conditions = {c.type: c.status for c in pod.status.conditions}
    assert conditions["PodScheduled"] == "True"
    assert conditions["Initialized"] == "True"
    [status] = pod.status.container_statuses
    terminated = status.state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert terminated.started_at is not None
    assert terminated.finished_at is not None
    assert status.restart_count == 0
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == "val_loss=0.1\n"


def test_backoff_limit_exceeded(core: client.CoreV1Api, batch: client.BatchV1Api, ns: str) -> None:
    command = ["sh", "-c", "echo boom >&2; exit 3"]
    batch.create_namespaced_job(ns, job_manifest("bad", command, backoffLimit=1))
    failed = wait_job_condition(batch, ns, "bad", "Failed")
    assert failed.reason == "BackoffLimitExceeded"
    assert wait_job_condition(batch, ns, "bad", "FailureTarget").reason == "BackoffLimitExceeded"
    job = batch.read_namespaced_job_status("bad", ns)
    assert job.status.failed == 2
    assert not job.status.succeeded
    assert job.status.completion_time is None
    pods = job_pods(core, ns, "bad")
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Failed"
        terminated = pod.status.container_statuses[0].state.terminated
        assert (terminated.exit_code, terminated.reason) == (3, "Error")
        assert core.read_namespaced_pod_log(pod.metadata.name, ns) == "boom\n"


def test_parallelism_two_completions_four(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    command = [
        "python",
        "-c",
        "import time; print('start', time.time()); time.sleep(1); print('end', time.time())",
    ]
    batch.create_namespaced_job(ns, job_manifest("par", command, parallelism=2, completions=4))
    wait_job_condition(batch, ns, "par", "Complete", timeout=60)
    assert batch.read_namespaced_job_status("par", ns).status.succeeded == 4
    pods = job_pods(core, ns, "par")
    assert len(pods) == 4
    intervals = []
    for pod in pods:
        log = core.read_namespaced_pod_log(pod.metadata.name, ns)
        start = float(re.search(r"start (\S+)", log)[1])  # type: ignore[index]
        end = float(re.search(r"end (\S+)", log)[1])  # type: ignore[index]
        intervals.append((start, end))
    overlap = max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals)
    assert overlap == 2


def test_job_active_deadline_kills_process_tree(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("slow", SLEEP_TREE, activeDeadlineSeconds=2))
    pod = wait_until(lambda: job_pods(core, ns, "slow"), message="pod of job slow")[0]
    pids = _tree_pids(core, ns, pod.metadata.name)
    failed = wait_job_condition(batch, ns, "slow", "Failed")
    assert failed.reason == "DeadlineExceeded"
    assert failed.message == "Job was active longer than specified deadline"
    wait_pids_gone(pids)
    job = batch.read_namespaced_job_status("slow", ns)
    assert job.status.failed == 1
    assert not job.status.active


def test_pod_active_deadline_fails_pod(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest(
        "pdl", SLEEP_TREE, backoffLimit=0, pod_spec={"activeDeadlineSeconds": 1}
    )
    batch.create_namespaced_job(ns, manifest)
    pod = wait_until(lambda: job_pods(core, ns, "pdl"), message="pod of job pdl")[0]
    pids = _tree_pids(core, ns, pod.metadata.name)
    pod = wait_pod_phase(core, ns, pod.metadata.name, ("Failed",))
    assert pod.status.reason == "DeadlineExceeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code in (137, 143)
    wait_pids_gone(pids)
    assert wait_job_condition(batch, ns, "pdl", "Failed").reason == "BackoffLimitExceeded"


def test_deleting_running_job_kills_processes(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("doomed", SLEEP_TREE))
    pod = wait_until(lambda: job_pods(core, ns, "doomed"), message="pod of job doomed")[0]
    pids = _tree_pids(core, ns, pod.metadata.name)
    wait_pod_phase(core, ns, pod.metadata.name, ("Running",))
    batch.delete_namespaced_job("doomed", ns, propagation_policy="Background")
    wait_pids_gone(pids)
    wait_until(lambda: not job_pods(core, ns, "doomed"), message="pods garbage-collected")


def test_deleting_running_pod_counts_as_failure_and_is_replaced(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("repl", SLEEP_TREE, backoffLimit=3))
    first = wait_until(lambda: job_pods(core, ns, "repl"), message="first pod")[0]
    pids = _tree_pids(core, ns, first.metadata.name)
    core.delete_namespaced_pod(first.metadata.name, ns)
    wait_pids_gone(pids)
    second = wait_until(
        lambda: [p for p in job_pods(core, ns, "repl") if p.metadata.name != first.metadata.name],
        message="replacement pod",
    )[0]
    wait_until(
        lambda: batch.read_namespaced_job_status("repl", ns).status.failed == 1,
        message="deleted pod counted as failed",
    )
    more = _tree_pids(core, ns, second.metadata.name)
    batch.delete_namespaced_job("repl", ns, propagation_policy="Foreground")
    wait_pids_gone(more)


def test_env_value_from(core: client.CoreV1Api, batch: client.BatchV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "cfg"}, "data": {"lr": "0.01", "opt": "adam"}}
    )
    core.create_namespaced_secret(
        ns, {"metadata": {"name": "sec"}, "stringData": {"token": "s3cret"}}
    )
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "JOB", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "LR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "lr"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
        {"name": "GREETING", "value": "hello-$(POD_NAME)"},
    ]
    script = (
        "import os, sys; keys = ['POD_NAME', 'POD_NS', 'POD_UID', 'JOB', 'NODE', 'IP', "
        "'LR', 'TOKEN', 'GREETING', 'CFG_opt']; "
        "[print(k + '=' + os.environ.get(k, '<unset>')) for k in keys]; "
        "print('argv=' + ' '.join(sys.argv[1:])); print('exe=' + sys.executable); "
        "print('cwd=' + os.getcwd())"
    )
    container = {
        "env": env,
        "args": ["$(LR)", "$$(LR)", "$(MISSING)"],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
    }
    batch.create_namespaced_job(
        ns, job_manifest("env", ["python", "-c", script], container=container)
    )
    wait_job_condition(batch, ns, "env", "Complete")
    [pod] = job_pods(core, ns, "env")
    log = core.read_namespaced_pod_log(pod.metadata.name, ns)
    values = dict(line.split("=", 1) for line in log.splitlines())
    assert values["POD_NAME"] == pod.metadata.name
    assert values["POD_NS"] == ns
    assert values["POD_UID"] == pod.metadata.uid
    assert values["JOB"] == "env"
    assert values["NODE"] == pod.spec.node_name
    assert values["IP"] == "127.0.0.1"
    assert values["LR"] == "0.01"
    assert values["TOKEN"] == "s3cret"
    assert values["GREETING"] == f"hello-{pod.metadata.name}"
    assert values["CFG_opt"] == "adam"
    assert values["argv"] == "0.01 $(LR) $(MISSING)"
    assert values["exe"] == sys.executable
    assert values["cwd"] == str(REPO_ROOT)  # no workingDir: the emulator's cwd


def test_working_dir_used_when_it_exists(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str, tmp_path: Path
) -> None:
    batch.create_namespaced_job(
        ns, job_manifest("wd", ["pwd"], container={"workingDir": str(tmp_path)})
    )
    batch.create_namespaced_job(
        ns, job_manifest("nowd", ["pwd"], container={"workingDir": "/no/such/dir"})
    )
    wait_job_condition(batch, ns, "wd", "Complete")
    wait_job_condition(batch, ns, "nowd", "Complete")
    [pod] = job_pods(core, ns, "wd")
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == f"{tmp_path}\n"
    [pod] = job_pods(core, ns, "nowd")
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == f"{REPO_ROOT}\n"


def test_missing_config_map_blocks_container(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    env = [{"name": "LR", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "lr"}}}]
    batch.create_namespaced_job(
        ns, job_manifest("late", ["sh", "-c", "echo lr=$LR"], container={"env": env})
    )
    pod = wait_until(lambda: job_pods(core, ns, "late"), message="pod of job late")[0]

    def waiting_reason() -> str | None:
        status = core.read_namespaced_pod_status(pod.metadata.name, ns).status
        statuses = status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting.reason if waiting else None

    wait_until(
        lambda: waiting_reason() == "CreateContainerConfigError",
        message="CreateContainerConfigError",
    )
    core.create_namespaced_config_map(ns, {"metadata": {"name": "late"}, "data": {"lr": "3"}})
    wait_job_condition(batch, ns, "late", "Complete")
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == "lr=3\n"


def test_on_failure_restarts_in_place_and_init_containers(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str, tmp_path: Path
) -> None:
    marker = f"{tmp_path}/marker"
    command = [
        "sh",
        "-c",
        f"cat {marker}.init; if [ -f {marker} ]; then echo second; "
        f"else touch {marker}; echo first; exit 1; fi",
    ]
    pod_spec = {
        "restartPolicy": "OnFailure",
        "initContainers": [
            {
                "name": "init",
                "image": "busybox",
                "command": ["sh", "-c", f"echo from-init > {marker}.init"],
            }
        ],
    }
    batch.create_namespaced_job(ns, job_manifest("again", command, pod_spec=pod_spec))
    wait_job_condition(batch, ns, "again", "Complete")
    [pod] = job_pods(core, ns, "again")
    [status] = pod.status.container_statuses
    assert status.restart_count == 1
    assert status.last_state.terminated.exit_code == 1
    assert status.state.terminated.reason == "Completed"
    assert pod.status.init_container_statuses[0].state.terminated.exit_code == 0
    log = core.read_namespaced_pod_log(pod.metadata.name, ns, container="main")
    assert log == "from-init\nfirst\nfrom-init\nsecond\n"


def test_memory_limit_reports_oom_killed(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    container = {"resources": {"limits": {"memory": "200Mi"}}}
    command = ["python", "-c", "x = bytearray(1024 * 1024 * 1024); print('allocated')"]
    batch.create_namespaced_job(
        ns, job_manifest("oom", command, backoffLimit=0, container=container)
    )
    wait_job_condition(batch, ns, "oom", "Failed")
    [pod] = job_pods(core, ns, "oom")
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)


def test_suspended_job_creates_no_pods_until_resumed(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("sus", PRINT_VAL_LOSS, suspend=True))
    assert wait_job_condition(batch, ns, "sus", "Suspended").reason == "JobSuspended"
    assert job_pods(core, ns, "sus") == []
    batch.patch_namespaced_job("sus", ns, {"spec": {"suspend": False}})
    wait_job_condition(batch, ns, "sus", "Complete")
    assert len(job_pods(core, ns, "sus")) == 1


def test_ttl_after_finished_deletes_job_and_pods(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    # A watch, not polling: with a 1 s TTL (and completionTime's whole seconds) the Job can be
    # Complete for less than a poll takes on a loaded machine.
    created = batch.create_namespaced_job(
        ns, job_manifest("ttl", PRINT_VAL_LOSS, ttlSecondsAfterFinished=1)
    )
    seen: list[tuple[str, bool]] = []
    stream = watch.Watch().stream(
        batch.list_namespaced_job,
        ns,
        field_selector="metadata.name=ttl",
        resource_version=created.metadata.resource_version,
        timeout_seconds=30,
    )
    for event in stream:
        conditions = event["object"].status.conditions or []
        complete = any(c.type == "Complete" and c.status == "True" for c in conditions)
        seen.append((event["type"], complete))
        if event["type"] == "DELETED":
            break
    assert [kind for kind, _ in seen[-1:]] == ["DELETED"], f"not deleted by TTL in 30 s: {seen}"
    assert any(kind == "MODIFIED" and complete for kind, complete in seen), seen
    wait_until(lambda: not job_pods(core, ns, "ttl"), message="pods garbage-collected")


@pytest.mark.parametrize("count", [20])
def test_many_short_jobs(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str, count: int
) -> None:
    for index in range(count):
        batch.create_namespaced_job(ns, job_manifest(f"m{index}", ["true"]))
    for index in range(count):
        wait_job_condition(batch, ns, f"m{index}", "Complete", timeout=60)
    assert len(core.list_namespaced_pod(ns).items) == count


def test_stopping_sends_sigterm_first(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    script = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    print('got SIGTERM, checkpointing'); sys.exit(42)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready')\n"
        "time.sleep(300)\n"
    )
    manifest = job_manifest(
        "polite", ["python", "-c", script], backoffLimit=0, pod_spec={"activeDeadlineSeconds": 2}
    )
    batch.create_namespaced_job(ns, manifest)
    pod = wait_until(lambda: job_pods(core, ns, "polite"), message="pod of job polite")[0]
    pod = wait_pod_phase(core, ns, pod.metadata.name, ("Failed",))
    assert pod.status.reason == "DeadlineExceeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 42
    log = core.read_namespaced_pod_log(pod.metadata.name, ns)
    assert log == "ready\ngot SIGTERM, checkpointing\n"


def test_log_is_written_live(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    script = (
        "import os, time\n"
        "print('epoch=1 val_loss=0.5')\n"  # no flush: PYTHONUNBUFFERED is the default
        f"while not os.path.exists({str(gate)!r}):\n"
        "    time.sleep(0.05)\n"
        "print('epoch=2 val_loss=0.3')\n"
    )
    batch.create_namespaced_job(ns, job_manifest("live", ["python", "-c", script]))
    pod = wait_until(lambda: job_pods(core, ns, "live"), message="pod of job live")[0]
    wait_log_line(core, ns, pod.metadata.name, r"epoch=1")
    assert core.read_namespaced_pod(pod.metadata.name, ns).status.phase == "Running"
    gate.touch()
    wait_job_condition(batch, ns, "live", "Complete")
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == (
        "epoch=1 val_loss=0.5\nepoch=2 val_loss=0.3\n"
    )


def test_on_failure_restarts_count_against_backoff_limit(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest(
        "crashy",
        ["sh", "-c", "echo crash; exit 1"],
        backoffLimit=1,
        pod_spec={"restartPolicy": "OnFailure"},
    )
    batch.create_namespaced_job(ns, manifest)
    assert wait_job_condition(batch, ns, "crashy", "Failed").reason == "BackoffLimitExceeded"
    wait_until(
        lambda: (
            not [
                p
                for p in job_pods(core, ns, "crashy")
                if p.status.phase not in ("Succeeded", "Failed")
            ]
        ),
        message="restarting pod deleted",
    )
