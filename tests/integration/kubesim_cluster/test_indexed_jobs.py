"""Indexed Jobs: one pod per completion index, with the index in env, annotation and hostname."""

from __future__ import annotations

import re

from kubernetes import client

from .support import job_manifest, job_pods, wait_job_condition

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
# ``$$`` because Kubernetes expands ``$(...)`` and turns ``$$`` into ``$`` before the shell.
PRINT_INDEX = ["sh", "-c", "echo index=$$JOB_COMPLETION_INDEX host=$$HOSTNAME"]


def test_indexed_job_runs_each_index_once(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest(
        "ranks", PRINT_INDEX, completionMode="Indexed", completions=3, parallelism=3
    )
    batch.create_namespaced_job(ns, manifest)
    complete = wait_job_condition(batch, ns, "ranks", "Complete")
    assert complete.reason == "CompletionsReached"
    status = batch.read_namespaced_job_status("ranks", ns).status
    assert (status.succeeded, status.completed_indexes) == (3, "0-2")
    seen = set()
    for pod in job_pods(core, ns, "ranks"):
        index = pod.metadata.annotations[INDEX_KEY]
        assert pod.metadata.labels[INDEX_KEY] == index
        assert re.fullmatch(rf"ranks-{index}-[a-z0-9]{{5}}", pod.metadata.name)
        assert pod.spec.hostname == f"ranks-{index}"
        log = core.read_namespaced_pod_log(pod.metadata.name, ns)
        assert log == f"index={index} host=ranks-{index}\n"
        seen.add(int(index))
    assert seen == {0, 1, 2}


def test_backoff_limit_per_index_fails_only_that_index(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    command = ["sh", "-c", 'test "$$JOB_COMPLETION_INDEX" != 1']
    manifest = job_manifest(
        "perindex",
        command,
        completionMode="Indexed",
        completions=3,
        parallelism=3,
        backoffLimitPerIndex=1,
    )
    batch.create_namespaced_job(ns, manifest)
    failed = wait_job_condition(batch, ns, "perindex", "Failed", timeout=40)
    assert (failed.reason, failed.message) == ("FailedIndexes", "Job has failed indexes")
    status = batch.read_namespaced_job_status("perindex", ns).status
    assert (status.completed_indexes, status.failed_indexes) == ("0,2", "1")
    assert status.failed == 2  # index 1 ran twice: the first try and its one retry
    counts = sorted(
        p.metadata.annotations["batch.kubernetes.io/job-index-failure-count"]
        for p in job_pods(core, ns, "perindex")
        if p.metadata.annotations[INDEX_KEY] == "1"
    )
    assert counts == ["0", "1"]


def test_fail_index_action(batch: client.BatchV1Api, ns: str) -> None:
    policy = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [7]}}]}
    command = ["sh", "-c", 'if [ "$$JOB_COMPLETION_INDEX" = 0 ]; then exit 7; fi']
    manifest = job_manifest(
        "failindex",
        command,
        completionMode="Indexed",
        completions=2,
        parallelism=2,
        backoffLimitPerIndex=3,
        podFailurePolicy=policy,
    )
    batch.create_namespaced_job(ns, manifest)
    failed = wait_job_condition(batch, ns, "failindex", "Failed", timeout=40)
    assert failed.reason == "FailedIndexes"
    status = batch.read_namespaced_job_status("failindex", ns).status
    assert (status.failed, status.failed_indexes, status.completed_indexes) == (1, "0", "1")
