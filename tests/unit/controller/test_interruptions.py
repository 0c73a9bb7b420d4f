"""Queued trials and infrastructure interruptions in the reconcile core."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubetune.api import TuningJobSpec
from kubetune.api.status import TrialReason
from kubetune.controller.model import Launch, Phase, Retry, RuntimeTrial, Stop
from kubetune.controller.reconcile import reconcile
from kubetune.controller.status import count_trials, reruns
from kubetune.trials import TrialRecord, TrialState

from tests.unit.controller.trials import running
from tests.unit.manifests import spec

START = 1_000_000.0
NOW = START + 600.0
EVICTED = "Evicted: pod t-0-abcde was interrupted (EvictionByEvictionAPI: Eviction API: evicting)"


def make_spec(**limits: Any) -> TuningJobSpec:
    return spec(limits={"maxTrials": 2, **limits})


def step(spec_: TuningJobSpec, trial: TrialRecord, observed: RuntimeTrial) -> list[Any]:
    return reconcile(spec_, [trial], {trial.number: observed}, started_at=START, now=NOW)


def test_a_queued_trial_never_times_out_as_pending() -> None:
    queued = RuntimeTrial(0, Phase.QUEUED, queued_since=START, pending_since=START)
    assert step(make_spec(pendingTimeout="1s"), running(0), queued) == []


def test_queue_timeout_fails_a_trial_queued_too_long() -> None:
    queued = RuntimeTrial(0, Phase.QUEUED, "Queued", "waiting", queued_since=NOW - 61)
    stop = step(make_spec(queueTimeout="1m"), running(0), queued)[0]
    assert isinstance(stop, Stop)
    assert stop.outcome is not None
    assert stop.outcome.reason == TrialReason.QUEUE_TIMEOUT
    assert stop.outcome.message == "still queued after queueTimeout 1m: waiting"
    assert step(make_spec(queueTimeout="2m"), running(0), queued) == []


def test_pending_timeout_still_applies_once_runnable() -> None:
    pending = RuntimeTrial(0, Phase.PENDING, pending_since=NOW - 5)
    stop = step(make_spec(pendingTimeout="3s"), running(0), pending)[0]
    assert isinstance(stop, Stop)
    assert stop.outcome is not None
    assert stop.outcome.reason == TrialReason.PENDING_TIMEOUT


def test_a_new_interruption_is_journaled_once() -> None:
    observed = RuntimeTrial(0, Phase.RUNNING, interruptions={"uid-1": EVICTED})
    assert step(make_spec(), running(0), observed) == [Retry(0, {"uid-1": EVICTED})]
    noted = replace(running(0), interruptions={"uid-1": EVICTED})
    assert step(make_spec(), noted, observed) == []


def test_a_lost_workload_is_relaunched_not_launched_at_once() -> None:
    lost = {"job/u": EVICTED}
    observed = RuntimeTrial(0, Phase.FAILED, "Evicted", "x", interruptions=lost, interrupted=True)
    actions = step(make_spec(), running(0), observed)
    assert actions == [Retry(0, lost, relaunch=True)]
    assert not any(isinstance(a, Launch) for a in actions)


def test_more_interruptions_than_max_trial_retries_fail_the_trial_naming_them() -> None:
    observed = RuntimeTrial(0, Phase.RUNNING, interruptions={"uid-1": EVICTED})
    stop = step(make_spec(maxTrialRetries=0), running(0), observed)[0]
    assert isinstance(stop, Stop)
    assert stop.outcome is not None
    assert stop.outcome.state is TrialState.FAILED
    assert stop.outcome.reason == "Evicted"
    assert stop.outcome.message == (
        "pod t-0-abcde was interrupted (EvictionByEvictionAPI: Eviction API: evicting); "
        "maxTrialRetries 0 allows no rerun after an interruption"
    )


def test_retries_are_counted_and_the_default_allows_two() -> None:
    two = {"a": EVICTED, "b": EVICTED}
    noted = replace(running(0), interruptions=two)
    assert step(make_spec(), noted, RuntimeTrial(0, Phase.RUNNING, interruptions=two)) == []
    three = {**two, "c": "NodeLost: pod p was interrupted (DeletionByTaintManager: x)"}
    stop = step(make_spec(), noted, RuntimeTrial(0, Phase.RUNNING, interruptions=three))[0]
    assert isinstance(stop, Stop)
    assert stop.outcome is not None
    assert stop.outcome.reason == "NodeLost"


def test_status_counts_retried_trials_and_queued_ones() -> None:
    rerun = replace(running(0), interruptions={"a": EVICTED})
    exhausted = TrialRecord(
        1, TrialState.FAILED, {}, reason="Evicted", interruptions={"a": EVICTED}
    )
    assert (reruns(rerun), reruns(exhausted)) == (1, 0)
    counts = count_trials([rerun, exhausted], queued=1)
    assert (counts.retried, counts.queued, counts.failed, counts.active) == (1, 1, 1, 1)
