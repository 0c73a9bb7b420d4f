"""``ClusterSession.step`` on raw TuningJob bodies: what it launches, records and reports.

The session runs against a real ``KubernetesBackend`` whose API clients are in-memory fakes
(trial Jobs created, deleted, pod logs read) and an in-memory Optuna storage; the cluster's
watch caches are the ``ClusterView`` each test hands to ``step``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any, cast

import optuna
import pytest
from kubetune.api.status import ConditionType
from kubetune.runtime.kubernetes.backend import ClusterView, KubernetesBackend
from kubetune.runtime.kubernetes.observe import JobView, PodView
from kubetune.runtime.kubernetes.session import ClusterSession, StepOutcome
from kubetune.search.study import TuningStudy

from tests.unit.manifests import manifest, tweak

NS = "ml"
NAME = "tune"
UID = "7d3c1f52-0000-4000-8000-00000000000a"
START = 1_800_000_000.0
STATE_TYPES = {t.value for t in ConditionType}


class FakeResponse:
    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, _: int) -> Iterator[bytes]:
        yield self.text.encode()

    def release_conn(self) -> None:
        pass


class FakeApi:
    """The few BatchV1Api, CoreV1Api and CustomObjectsApi calls the backend makes."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.logs: dict[str, str] = {}  # pod name -> log

    def create_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        assert (group, version, namespace, plural) == ("batch", "v1", NS, "jobs")
        self.created.append(body)
        return body

    def delete_namespaced_job(self, name: str, namespace: str, **_: Any) -> None:
        self.deleted.append(name)

    def read_namespaced_pod_log(self, name: str, namespace: str, **_: Any) -> FakeResponse:
        return FakeResponse(self.logs[name])

    def params(self, trial: int) -> dict[str, Any]:
        body = next(b for b in self.created if b["metadata"]["name"] == f"{NAME}-{trial}")
        env = body["spec"]["template"]["spec"]["containers"][0]["env"]
        value: dict[str, Any] = json.loads(
            next(e["value"] for e in env if e["name"] == "KUBETUNE_PARAMS")
        )
        return value

    @property
    def launched(self) -> list[int]:
        return [int(b["metadata"]["labels"]["kubetune.io/trial"]) for b in self.created]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class Harness:
    """One TuningJob: its body as the API server holds it, a session and the cluster."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.api = FakeApi()
        self.storage = optuna.storages.InMemoryStorage()
        self.clock = Clock()
        self.body = copy.deepcopy(document)
        self.body["metadata"].update(namespace=NS, uid=UID, generation=1)
        self.finished: dict[int, float] = {}  # trial -> loss, Jobs that completed
        self.session = self.new_session()

    def new_session(self) -> ClusterSession:
        """A session as the operator builds one (again, after a restart)."""
        api = cast(Any, self.api)
        return ClusterSession(
            NAME,
            NS,
            UID,
            open_study=lambda job, namespace, uid: TuningStudy(job, self.storage),
            backend_factory=lambda job: KubernetesBackend(job, NS, UID, api, api, api),
            clock=self.clock,
        )

    def edit(self, document: dict[str, Any]) -> None:
        """``kubectl apply`` of a new spec: the generation goes up, the status stays."""
        generation = self.body["metadata"]["generation"] + 1
        status = self.body.get("status")
        self.body = copy.deepcopy(document)
        self.body["metadata"].update(namespace=NS, uid=UID, generation=generation)
        if status is not None:
            self.body["status"] = status

    def finish(self, trial: int, loss: float) -> None:
        """The trial's Job completed and its pod logged ``loss``."""
        self.finished[trial] = loss
        self.api.logs[f"{NAME}-{trial}-pod"] = f"loss={loss}\n"

    def view(self) -> ClusterView:
        jobs = {}
        pods = {}
        for trial in self.api.launched:
            done = trial in self.finished
            jobs[trial] = JobView(
                f"{NAME}-{trial}", trial, START, "Complete" if done else None, finished=START
            )
            phase = "Succeeded" if done else "Running"
            pods[trial] = [PodView(f"{NAME}-{trial}-pod", trial, f"{NAME}-{trial}", phase, START)]
        return ClusterView(jobs, pods)

    def step(self) -> StepOutcome:
        outcome = self.session.step(copy.deepcopy(self.body), self.view())
        self.body["status"] = outcome.status  # the operator patches it
        return outcome


def conditions(outcome: StepOutcome) -> dict[str, dict[str, Any]]:
    items = outcome.status["conditions"]
    types = [c["type"] for c in items]
    assert len(types) == len(set(types)), f"duplicate conditions: {types}"
    return {c["type"]: c for c in items}


def true_states(outcome: StepOutcome) -> list[str]:
    """The state conditions that are True: exactly one, always."""
    return [t for t, c in conditions(outcome).items() if t in STATE_TYPES and c["status"] == "True"]


def events(outcome: StepOutcome) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in outcome.events]


def test_unknown_strategy_from_a_looser_crd_is_invalid_spec_and_launches_nothing() -> None:
    """An older (or hand-installed) CRD may admit ``annealing``: the operator must refuse it."""
    harness = Harness(tweak(manifest(name=NAME), "spec.strategy.algorithm", "annealing"))

    outcome = harness.step()

    assert true_states(outcome) == ["Failed"]
    failed = conditions(outcome)["Failed"]
    assert failed["reason"] == "InvalidSpec"
    assert "spec.strategy.algorithm" in failed["message"]
    assert "annealing" in failed["message"]
    assert failed["observedGeneration"] == 1
    accepted = conditions(outcome)["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert "spec.strategy.algorithm" in accepted["message"]
    assert conditions(outcome)["Stalled"]["status"] == "True"
    assert events(outcome) == [("Warning", "InvalidSpec")]
    assert "spec.strategy.algorithm" in outcome.events[0].message
    assert harness.api.created == []
    assert harness.session.tuner is None
    assert outcome.done

    again = harness.step()
    assert again.events == []  # reported once, not on every resync
    assert harness.api.created == []


def test_accepted_spec_is_reported_with_its_generation() -> None:
    harness = Harness(manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2}))

    outcome = harness.step()

    assert harness.api.launched == [0, 1]
    assert true_states(outcome) == ["Running"]
    accepted = conditions(outcome)["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("True", "Accepted")
    assert accepted["observedGeneration"] == 1
    assert "generation 1" in accepted["message"]
    # The state conditions come first: the CRD's Status column shows the first True one.
    assert [c["type"] for c in outcome.status["conditions"]] == ["Running", "Ready", "SpecAccepted"]
    assert outcome.events == []


REFUSED_EDITS = [
    pytest.param(
        "spec.parameters[0].max", 2.0, "SearchSpaceChanged", "spec.parameters", id="search-space"
    ),
    pytest.param(
        "spec.parameters[0].min", 5.0, "InvalidSpec", "spec.parameters[0].max", id="invalid-spec"
    ),
]


@pytest.mark.parametrize(("path", "value", "reason", "field"), REFUSED_EDITS)
def test_refused_edit_of_a_running_study_is_reported_and_the_study_goes_on(
    path: str, value: Any, reason: str, field: str
) -> None:
    original = manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2})
    harness = Harness(original)
    harness.step()
    assert harness.api.launched == [0, 1]

    harness.edit(tweak(original, path, value))
    harness.finish(0, 0.25)  # finishes while the bad edit stands
    refused = harness.step()

    # The study is intact and still driven with the spec of generation 1: trial 0 is
    # recorded, trial 2 launched with it; no Failed, no Stalled.
    assert true_states(refused) == ["Running"]
    found = conditions(refused)
    assert "Failed" not in found
    assert "Stalled" not in found
    assert found["Ready"]["status"] == "False"
    assert refused.status["trials"]["succeeded"] == 1
    assert refused.status["bestTrial"]["number"] == 0
    assert harness.api.launched == [0, 1, 2]
    assert refused.status["observedGeneration"] == 2
    accepted = found["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", reason)
    assert field in accepted["message"]
    assert "the study goes on with the spec of generation 1" in accepted["message"]
    assert accepted["observedGeneration"] == 2
    assert events(refused) == [("Warning", reason)]
    assert field in refused.events[0].message
    # Trials launched meanwhile follow the accepted spec (parameter x within [0, 1]).
    assert 0.0 <= harness.api.params(2)["x"] <= 1.0

    harness.finish(1, 0.5)
    again = harness.step()
    assert again.events == []  # one Warning per refused generation
    assert conditions(again)["SpecAccepted"]["lastTransitionTime"] == accepted["lastTransitionTime"]
    assert again.status["trials"]["succeeded"] == 2

    harness.edit(original)  # reverted
    harness.finish(2, 0.75)
    reverted = harness.step()
    assert true_states(reverted) == ["Complete"]
    accepted = conditions(reverted)["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("True", "Accepted")
    assert accepted["observedGeneration"] == 3
    assert ("Normal", "SpecAccepted") in events(reverted)
    assert reverted.status["trials"] == {
        "active": 0,
        "succeeded": 3,
        "failed": 0,
        "pruned": 0,
        "total": 3,
    }


@pytest.mark.parametrize(("path", "value", "reason", "field"), REFUSED_EDITS)
def test_refused_edit_of_a_complete_study_keeps_it_complete(
    path: str, value: Any, reason: str, field: str
) -> None:
    original = manifest(name=NAME, limits={"maxTrials": 1})
    harness = Harness(original)
    harness.step()
    harness.finish(0, 0.5)
    done = harness.step()
    assert true_states(done) == ["Complete"]
    completion_time = done.status["completionTime"]

    harness.edit(tweak(original, path, value))
    refused = harness.step()

    assert true_states(refused) == ["Complete"]
    found = conditions(refused)
    assert "Failed" not in found
    assert "Stalled" not in found
    assert found["Ready"]["status"] == "True"
    assert found["Complete"]["reason"] == "MaxTrialsReached"
    assert (found["SpecAccepted"]["status"], found["SpecAccepted"]["reason"]) == ("False", reason)
    assert field in found["SpecAccepted"]["message"]
    assert refused.status["completionTime"] == completion_time
    assert events(refused) == [("Warning", reason)]  # no second completion event
    assert harness.api.launched == [0]


def test_edits_that_are_accepted_take_effect_and_keep_spec_accepted_true() -> None:
    original = manifest(name=NAME, limits={"maxTrials": 1})
    harness = Harness(original)
    harness.step()
    harness.finish(0, 0.5)
    first = conditions(harness.step())["SpecAccepted"]

    harness.edit(tweak(original, "spec.limits.maxTrials", 2))
    extended = harness.step()

    assert true_states(extended) == ["Running"]
    assert harness.api.launched == [0, 1]
    accepted = conditions(extended)["SpecAccepted"]
    assert (accepted["status"], accepted["observedGeneration"]) == ("True", 2)
    assert accepted["lastTransitionTime"] == first["lastTransitionTime"]
    assert extended.events == []


def test_a_spec_fixed_after_being_invalid_from_the_start_runs() -> None:
    original = manifest(name=NAME, limits={"maxTrials": 1})
    harness = Harness(tweak(original, "spec.parameters[0].min", 5.0))
    assert true_states(harness.step()) == ["Failed"]

    harness.edit(original)
    fixed = harness.step()

    assert true_states(fixed) == ["Running"]
    assert "Failed" not in conditions(fixed)
    assert "Stalled" not in conditions(fixed)
    assert conditions(fixed)["SpecAccepted"]["status"] == "True"
    assert harness.api.launched == [0]


def test_refused_edit_standing_across_an_operator_restart_keeps_the_state() -> None:
    """A new session has no accepted spec to go on with: the state stays as last reported."""
    original = manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2})
    harness = Harness(original)
    harness.step()
    harness.edit(tweak(original, "spec.parameters[0].max", 2.0))
    harness.step()

    harness.session = harness.new_session()  # the operator restarted
    restarted = harness.step()

    assert true_states(restarted) == ["Running"]
    found = conditions(restarted)
    assert "Failed" not in found
    assert "Stalled" not in found
    assert (found["SpecAccepted"]["status"], found["SpecAccepted"]["reason"]) == (
        "False",
        "SearchSpaceChanged",
    )
    assert restarted.events == []  # the same refusal, already announced
    assert harness.api.launched == [0, 1]

    harness.edit(original)
    harness.finish(0, 0.1)
    reverted = harness.step()
    assert true_states(reverted) == ["Running"]
    assert conditions(reverted)["SpecAccepted"]["status"] == "True"
    assert reverted.status["trials"]["succeeded"] == 1
    assert harness.api.launched == [0, 1, 2]  # nothing launched twice
