"""The TuningJob status: counters, best trial, conditions by Kubernetes conventions."""

from __future__ import annotations

from typing import Any

from kubetune.api.status import ConditionType, Reason
from kubetune.controller.model import Completion
from kubetune.controller.status import (
    invalid_status,
    merge_conditions,
    put_condition,
    spec_accepted,
    spec_refused,
    tuningjob_status,
)

from ..manifests import spec
from .trials import complete, failed, pruned, running

START = 1_800_000_000.0
NOW = START + 90


def status(
    trials: list[Any], completion: Completion | None = None, **options: Any
) -> dict[str, Any]:
    return tuningjob_status(spec(), "study", trials, completion, START, NOW, 3, **options)


def test_running_study_reports_counters_best_trial_and_one_true_condition() -> None:
    result = status([complete(0, 0.4), complete(1, 0.2), failed(2), pruned(3), running(4)])

    assert result["trials"] == {
        "active": 1,
        "queued": 0,
        "succeeded": 2,
        "failed": 1,
        "pruned": 1,
        "retried": 0,
        "total": 5,
    }
    assert result["bestTrial"]["number"] == 1
    assert result["bestTrial"]["objective"] == 0.2
    assert result["bestTrial"]["name"] == result["bestTrial"]["jobName"] == "study-1"
    assert result["observedGeneration"] == 3
    assert result["startTime"] == "2027-01-15T08:00:00Z"
    assert "completionTime" not in result
    condition, ready = result["conditions"]
    assert condition["type"] == "Running"
    assert condition["status"] == "True"
    assert condition["observedGeneration"] == 3
    # The kstatus summary: not Ready while trials run (Flux waits), no Stalled.
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "TrialsRunning")
    assert ready["observedGeneration"] == 3


def test_status_size_does_not_grow_with_trials() -> None:
    few = status([complete(n, float(n)) for n in range(10)])
    many = status([complete(n, float(n)) for n in range(5000)])
    assert len(str(many)) - len(str(few)) < 20  # only the counters' digits grow


def test_completion_sets_complete_and_keeps_transition_times() -> None:
    done = Completion(ConditionType.COMPLETE, Reason.MAX_TRIALS_REACHED, "2 trials ran")
    previous = {
        "conditions": [
            {"type": "Running", "status": "True", "lastTransitionTime": "2027-01-15T08:00:00Z"}
        ],
        "completionTime": "2027-01-15T08:01:00Z",
    }
    result = status([complete(0, 1.0), complete(1, 2.0)], done, previous=previous)

    types = {c["type"]: c for c in result["conditions"]}
    assert types["Complete"]["status"] == "True"
    assert types["Complete"]["reason"] == "MaxTrialsReached"
    assert types["Running"]["status"] == "False"
    # Running changed status, so it moved; completionTime is kept from before.
    assert types["Running"]["lastTransitionTime"] == "2027-01-15T08:01:30Z"
    assert result["completionTime"] == "2027-01-15T08:01:00Z"


def test_pending_trials_are_named_in_the_running_condition() -> None:
    result = status([running(0)], pending="study-0 Unschedulable: 0/3 nodes are available")
    assert "waiting to start: study-0 Unschedulable" in result["conditions"][0]["message"]


def test_invalid_spec_status() -> None:
    result = invalid_status("spec.parameters[0].min: must be > 0 for scale log", NOW, 1)
    condition, accepted = result["conditions"]
    assert condition["type"] == "Failed"
    assert condition["reason"] == "InvalidSpec"
    assert "must be > 0" in condition["message"]
    # The spec was never accepted: SpecAccepted says so too, with the same reason and message.
    assert (accepted["type"], accepted["status"]) == ("SpecAccepted", "False")
    assert accepted["reason"] == "InvalidSpec"
    assert accepted["message"] == condition["message"]
    assert result["observedGeneration"] == 1


def test_summary_conditions_follow_complete_and_failed() -> None:
    done = Completion(ConditionType.COMPLETE, Reason.TARGET_REACHED, "trial 3 reached 0.1")
    conditions = status([complete(0, 0.1)], done)["conditions"]
    # The summaries come last: the CRD's Status column shows the first True condition only.
    assert [c["type"] for c in conditions] == ["Running", "Complete", "Ready"]
    types = {c["type"]: c for c in conditions}
    assert (types["Ready"]["status"], types["Ready"]["reason"]) == ("True", "TargetReached")
    assert "Stalled" not in types

    failure = Completion(ConditionType.FAILED, Reason.MAX_FAILED_TRIALS_EXCEEDED, "4 failed")
    types = {c["type"]: c for c in status([failed(0)], failure)["conditions"]}
    assert types["Ready"]["status"] == "False"
    assert (types["Stalled"]["status"], types["Stalled"]["reason"]) == (
        "True",
        "MaxFailedTrialsExceeded",
    )


def test_summary_conditions_are_rederived_not_duplicated() -> None:
    invalid = invalid_status("spec.limits.maxTrials: required", NOW, 1)["conditions"]
    first = merge_conditions([], invalid)
    again = merge_conditions(first, first)
    assert [c["type"] for c in again] == ["Failed", "Ready", "Stalled", "SpecAccepted"]
    assert again == first


def test_auxiliary_conditions_never_decide_the_summaries() -> None:
    """A refused edit (SpecAccepted=False) or an unreachable Prometheus beside a running or
    complete study leaves exactly one state condition True, and Ready/Stalled follow it."""
    refused = spec_refused(Reason.SEARCH_SPACE_CHANGED, "spec.parameters cannot change", NOW, 2)
    prometheus = {"type": "MetricsSourceAvailable", "status": "False", "reason": "Prometheus"}
    done = Completion(ConditionType.COMPLETE, Reason.MAX_TRIALS_REACHED, "2 trials ran")
    for completion, ready in ((None, "False"), (done, "True")):
        own = status([complete(0, 0.1)], completion)["conditions"]
        merged = merge_conditions([], [*own, refused, prometheus])
        types = {c["type"]: c for c in merged}
        true_states = [
            c["type"]
            for c in merged
            if c["type"] in {t.value for t in ConditionType} and c["status"] == "True"
        ]
        assert len(true_states) == 1
        assert "Failed" not in types
        assert "Stalled" not in types
        assert types["Ready"]["status"] == ready
        assert [c["type"] for c in merged][-2:] == ["SpecAccepted", "MetricsSourceAvailable"]


def test_put_condition_replaces_by_type_and_keeps_the_transition_time_while_status_holds() -> None:
    before = [spec_accepted(START, 1)]
    later = spec_accepted(NOW, 2)
    (kept,) = put_condition(before, later, before)
    assert kept["lastTransitionTime"] == before[0]["lastTransitionTime"]
    assert (kept["observedGeneration"], kept["message"]) == (2, later["message"])

    refused = spec_refused(Reason.INVALID_SPEC, "spec.limits.maxTrials: required", NOW, 3)
    (moved,) = put_condition(before, refused, before)
    assert (
        moved["lastTransitionTime"]
        == refused["lastTransitionTime"]
        != before[0]["lastTransitionTime"]
    )
    assert (moved["status"], moved["reason"]) == ("False", "InvalidSpec")
