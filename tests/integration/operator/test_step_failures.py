"""A TuningJob whose step keeps failing gets a condition saying why; the daemon and every other
TuningJob go on, and the study resumes by itself once the cause is gone."""

from __future__ import annotations

from .harness import Cluster, OperatorProcess, eventually, tuningjob


def test_a_failing_step_is_a_condition_on_its_tuningjob_and_others_run(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    # A ConfigMap left behind under the name of the study's first journal chunk, owned by
    # nobody: the journal refuses to write into it (StudyJournalError) on every step.
    cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "blocked-study-0000"}, "data": {"x": "y"}}
    )
    cluster.apply(tuningjob("blocked", max_trials=2, parallel=1))
    cluster.apply(tuningjob("unaffected", max_trials=3, parallel=2))

    failing = eventually(
        lambda: cluster.any_condition("blocked", "Reconciled"),
        message="a Reconciled condition on the blocked TuningJob",
    )
    assert failing["status"] == "False"
    assert failing["reason"] == "ReconcileError"
    assert "does not belong to TuningJob blocked" in failing["message"]
    assert "Traceback" not in failing["message"]

    done = cluster.wait_condition("unaffected", "Complete", timeout=120)
    assert done["reason"] == "MaxTrialsReached"
    assert cluster.jobs("blocked") == []

    # Once the obstacle is gone, the next retry rebuilds the session and the study runs.
    cluster.core.delete_namespaced_config_map("blocked-study-0000", "default")
    cluster.wait_condition("blocked", "Complete", timeout=120)
    assert cluster.any_condition("blocked", "Reconciled") is None
    assert operator.process is not None
    assert operator.process.poll() is None
