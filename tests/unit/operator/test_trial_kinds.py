"""KUBETUNE_TRIAL_KINDS, and how a workload's conditions become a trial's outcome."""

from __future__ import annotations

import pytest
from kubetune.operator.trial_kinds import MergedIndex, TrialKind, parse_trial_kinds
from kubetune.runtime.kubernetes.observe import job_view, with_outcome


def test_trial_kinds_parse_with_plural_and_index_id() -> None:
    kinds = parse_trial_kinds("kubeflow.org/v1/PyTorchJob, jobset.x-k8s.io/v1alpha2/JobSet,")
    assert kinds == [
        TrialKind("kubeflow.org", "v1", "PyTorchJob"),
        TrialKind("jobset.x-k8s.io", "v1alpha2", "JobSet"),
    ]
    assert [k.plural for k in kinds] == ["pytorchjobs", "jobsets"]
    assert parse_trial_kinds("") == []
    with pytest.raises(ValueError, match="'v1/Pod' is not apiVersion/Kind"):
        parse_trial_kinds("v1/Pod")


def test_merged_index_reads_every_index() -> None:
    merged = MergedIndex([{"k": [1]}, {"k": [2], "j": [3]}])
    assert merged.get("k") == [1, 2]
    assert merged.get("missing", []) == []
    assert sorted(merged) == ["j", "k"]


def workload(*conditions: tuple[str, str]) -> dict[str, object]:
    return {
        "kind": "PyTorchJob",
        "metadata": {
            "name": "tj-2",
            "labels": {"kubetune.io/trial": "2"},
            "creationTimestamp": "2026-11-23T10:00:00Z",
        },
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": f"PyTorchJob{t}", "message": "m"}
                for t, s in conditions
            ]
        },
    }


def test_success_and_failure_conditions_end_a_workload_of_another_kind() -> None:
    running = job_view(workload(("Created", "True"), ("Running", "True")))
    assert running is not None
    assert with_outcome(running, "Succeeded", "Failed").condition is None
    done = job_view(workload(("Created", "True"), ("Succeeded", "True")))
    assert done is not None
    assert done.condition is None  # a PyTorchJob's own conditions mean nothing by themselves
    assert with_outcome(done, "Succeeded", "Failed").condition == "Complete"
    failed = job_view(workload(("Failed", "True"), ("Succeeded", "False")))
    assert failed is not None
    outcome = with_outcome(failed, "Succeeded", "Failed")
    assert (outcome.condition, outcome.reason) == ("Failed", "PyTorchJobFailed")
