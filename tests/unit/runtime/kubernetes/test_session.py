"""``ClusterSession.step`` on raw TuningJob bodies: what it launches, records and reports.

The session runs against a real ``KubernetesBackend`` whose API clients are in-memory fakes
(trial Jobs created, deleted, pod logs read) and an in-memory Optuna storage; the cluster's
watch caches are the ``ClusterView`` each test hands to ``step``.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any, cast

import optuna
import pytest
from kubetune.api.status import ConditionType
from kubetune.runtime.kubernetes.backend import ClusterView, KubernetesBackend
from kubetune.runtime.kubernetes.journal import open_journal_storage
from kubetune.runtime.kubernetes.observe import JobView, PodView
from kubetune.runtime.kubernetes.session import ClusterSession, StepOutcome, StudyStoreOpener
from kubetune.search.accepted import ATTR_ACCEPTED_SPEC
from kubetune.search.study import StudyStore, TuningStudy

from tests.unit.manifests import manifest, tweak
from tests.unit.runtime.kubernetes.fake_core import FakeCoreV1Api

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
    """One TuningJob: its body as the API server holds it, a session and the cluster.

    The study is in an in-memory Optuna storage, or wherever ``study_store`` says (e.g. a
    ConfigMap journal)."""

    def __init__(
        self,
        document: dict[str, Any],
        study_store: StudyStoreOpener | None = None,
    ) -> None:
        self.api = FakeApi()
        self.storage = optuna.storages.InMemoryStorage()
        self.study_store = study_store or (lambda name, ns, uid: StudyStore(self.storage))
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
            study_store=self.study_store,
            backend_factory=lambda job: KubernetesBackend(job, NS, UID, api, api, api),
            clock=self.clock,
        )

    def store_accepted(self, value: Any) -> None:
        """Overwrite the accepted spec stored in the (in-memory) study."""
        study_id = self.storage.get_study_id_from_name(NAME)
        self.storage.set_study_user_attr(study_id, ATTR_ACCEPTED_SPEC, value)

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
        "queued": 0,
        "succeeded": 3,
        "failed": 0,
        "pruned": 0,
        "retried": 0,
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


@pytest.mark.parametrize(("path", "value", "reason", "field"), REFUSED_EDITS)
def test_refused_edit_standing_across_an_operator_restart_goes_on_with_the_accepted_spec(
    path: str, value: Any, reason: str, field: str
) -> None:
    """The accepted spec is stored in the study: a restarted operator goes on with it."""
    original = manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2})
    harness = Harness(original)
    harness.step()
    harness.edit(tweak(original, path, value))
    assert events(harness.step()) == [("Warning", reason)]

    harness.session = harness.new_session()  # the operator restarted
    harness.finish(0, 0.25)  # finishes while the bad edit stands
    restarted = harness.step()

    # Trial 0 is recorded and trial 2 launched, with the spec of generation 1.
    assert true_states(restarted) == ["Running"]
    found = conditions(restarted)
    assert "Failed" not in found
    assert "Stalled" not in found
    assert restarted.status["trials"]["succeeded"] == 1
    assert harness.api.launched == [0, 1, 2]
    assert 0.0 <= harness.api.params(2)["x"] <= 1.0
    accepted = found["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", reason)
    assert field in accepted["message"]
    assert "the study goes on with the spec of generation 1" in accepted["message"]
    assert accepted["observedGeneration"] == 2
    assert restarted.events == []  # the same refusal, already announced

    harness.finish(1, 0.5)
    harness.finish(2, 0.75)
    done = harness.step()
    assert true_states(done) == ["Complete"]
    assert done.status["trials"]["succeeded"] == 3
    assert conditions(done)["SpecAccepted"]["status"] == "False"
    assert events(done) == [("Normal", "MaxTrialsReached")]
    assert harness.api.launched == [0, 1, 2]  # nothing launched twice

    harness.edit(original)  # reverted
    reverted = harness.step()
    assert true_states(reverted) == ["Complete"]
    accepted = conditions(reverted)["SpecAccepted"]
    assert (accepted["status"], accepted["observedGeneration"]) == ("True", 3)
    assert events(reverted) == [("Normal", "SpecAccepted")]


def test_restart_goes_on_with_the_last_accepted_generation_not_the_first() -> None:
    original = manifest(name=NAME, limits={"maxTrials": 2, "parallelTrials": 1})
    harness = Harness(original)
    harness.step()
    widened = tweak(original, "spec.limits", {"maxTrials": 3, "parallelTrials": 2})
    harness.edit(widened)  # generation 2, accepted: a second trial at once
    harness.step()
    assert harness.api.launched == [0, 1]
    harness.edit(tweak(widened, "spec.parameters[0].min", 5.0))  # generation 3, refused
    harness.step()

    harness.session = harness.new_session()
    harness.finish(0, 0.5)
    restarted = harness.step()

    assert harness.api.launched == [0, 1, 2]  # maxTrials 3 and parallelTrials 2 of generation 2
    message = conditions(restarted)["SpecAccepted"]["message"]
    assert "the study goes on with the spec of generation 2" in message


def test_refused_edit_across_a_restart_of_a_study_without_a_stored_spec_keeps_the_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A TuningJob started before accepted specs were stored: a new session has no accepted
    spec to go on with, so the state stays as last reported until a spec is accepted."""
    original = manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2})
    harness = Harness(original)
    with monkeypatch.context() as patched:  # an operator that did not store accepted specs
        patched.setattr(TuningStudy, "store_accepted_spec", lambda *_: False)
        harness.step()
        harness.edit(tweak(original, "spec.parameters[0].max", 2.0))
        harness.step()

    harness.session = harness.new_session()  # the operator restarted (and stores them)
    harness.finish(0, 0.1)
    restarted = harness.step()

    assert true_states(restarted) == ["Running"]
    found = conditions(restarted)
    assert "Failed" not in found
    assert "Stalled" not in found
    accepted = found["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "SearchSpaceChanged")
    assert "the study waits for a spec it can accept" in accepted["message"]
    assert "not known since the operator restarted" in accepted["message"]
    assert restarted.events == []  # the same refusal, already announced
    assert restarted.status["trials"]["succeeded"] == 0  # waits: trial 0 not recorded yet
    assert harness.api.launched == [0, 1]

    harness.edit(original)
    reverted = harness.step()
    assert true_states(reverted) == ["Running"]
    assert conditions(reverted)["SpecAccepted"]["status"] == "True"
    assert reverted.status["trials"]["succeeded"] == 1
    assert harness.api.launched == [0, 1, 2]  # nothing launched twice


def test_a_stored_spec_that_no_longer_validates_is_not_used_after_a_restart() -> None:
    original = manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2})
    harness = Harness(original)
    harness.step()
    harness.edit(tweak(original, "spec.parameters[0].max", 2.0))
    harness.step()
    # What the operator stored, as a later operator's model would refuse it.
    stale = tweak(original, "spec.parameters[0].min", 5.0)["spec"]
    harness.store_accepted({"generation": 1, "spec": stale})

    harness.session = harness.new_session()
    harness.finish(0, 0.1)
    restarted = harness.step()

    assert true_states(restarted) == ["Running"]
    accepted = conditions(restarted)["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "SearchSpaceChanged")
    assert "the spec of generation 1 stored as accepted no longer validates" in accepted["message"]
    assert "spec.parameters[0].max" in accepted["message"]
    assert restarted.events == []
    assert restarted.status["trials"]["succeeded"] == 0
    assert harness.api.launched == [0, 1]


def journal_harness(document: dict[str, Any], **options: Any) -> tuple[Harness, FakeCoreV1Api]:
    """A harness whose study is a ConfigMap journal (opened afresh by each session)."""
    core = FakeCoreV1Api()

    def study_store(name: str, namespace: str, uid: str) -> StudyStore:
        storage = open_journal_storage(core, name, namespace, uid, **options)
        return StudyStore(storage, flush=storage.flush)

    return Harness(document, study_store), core


def journal_text(core: FakeCoreV1Api) -> str:
    return "".join(v for cm in core.configmaps(NS) for v in (cm.get("data") or {}).values())


def test_the_accepted_spec_costs_one_journal_write_per_generation_not_per_step() -> None:
    original = manifest(name=NAME, limits={"maxTrials": 4, "parallelTrials": 2})
    harness, core = journal_harness(original)

    harness.step()
    assert core.count("create", "patch") == 1  # the study, its trials and the spec: one write
    assert journal_text(core).count(ATTR_ACCEPTED_SPEC) == 1
    harness.step()
    assert core.count("create", "patch") == 1  # nothing new: no request at all

    harness.edit(tweak(original, "spec.limits.maxTrials", 5))  # accepted, nothing to launch
    harness.step()
    assert core.count("create", "patch") == 2
    assert journal_text(core).count(ATTR_ACCEPTED_SPEC) == 2
    harness.step()
    assert core.count("create", "patch") == 2

    harness.edit(tweak(original, "spec.parameters[0].max", 2.0))  # refused: nothing stored
    harness.step()
    assert core.count("create", "patch") == 2

    harness.session = harness.new_session()  # restarted: reads the study from the journal
    harness.finish(0, 0.5)
    restarted = harness.step()
    assert restarted.status["trials"]["succeeded"] == 1
    assert harness.api.launched == [0, 1, 2]
    message = conditions(restarted)["SpecAccepted"]["message"]
    assert "the study goes on with the spec of generation 2" in message
    assert journal_text(core).count(ATTR_ACCEPTED_SPEC) == 2  # not stored again


def test_a_spec_too_large_for_the_journal_is_in_effect_but_reported_not_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    big = tweak(
        manifest(name=NAME, limits={"maxTrials": 3, "parallelTrials": 2}),
        "spec.trialTemplate.metadata.annotations",
        {"example.com/notes": "x" * 20_000},
    )
    harness, core = journal_harness(big, max_chunk_bytes=16 * 1024)

    with caplog.at_level(logging.ERROR):
        outcome = harness.step()

    assert harness.api.launched == [0, 1]
    assert ATTR_ACCEPTED_SPEC not in journal_text(core)
    accepted = conditions(outcome)["SpecAccepted"]
    assert (accepted["status"], accepted["reason"]) == ("True", "Accepted")
    assert "could not be stored in the study" in accepted["message"]
    assert "does not fit in a chunk" in accepted["message"]
    assert any("could not be stored" in r.getMessage() for r in caplog.records)
    assert outcome.events == []

    harness.edit(tweak(big, "spec.parameters[0].max", 2.0))
    refused = harness.step()
    message = conditions(refused)["SpecAccepted"]["message"]
    assert "the study goes on with the spec of generation 1" in message
    assert "could not be stored in the study" in message

    harness.session = harness.new_session()  # restarted: waits, as before specs were stored
    harness.finish(0, 0.5)
    restarted = harness.step()
    message = conditions(restarted)["SpecAccepted"]["message"]
    assert "the study waits for a spec it can accept" in message
    assert harness.api.launched == [0, 1]
