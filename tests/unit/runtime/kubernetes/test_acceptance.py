"""The spec-acceptance state machine on its own: which spec is in effect, the SpecAccepted
transitions and their Events, observedGeneration, the status with no spec in effect."""

from __future__ import annotations

from typing import Any

from kubetune.api.status import Reason
from kubetune.runtime.kubernetes.acceptance import (
    Acceptance,
    Event,
    Refusal,
    refused_status,
    spec_condition,
)

NOW = 1_700_000_000.0
BAD = Refusal(Reason.INVALID_SPEC, "spec.limits.maxTrials: must be at least 1")
CHANGED = Refusal(Reason.SEARCH_SPACE_CHANGED, "spec.parameters cannot change")


def by_type(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_each_generation_is_stored_once_and_the_last_accepted_is_in_effect() -> None:
    acceptance = Acceptance()
    assert acceptance.in_effect is None
    assert acceptance.accept(1) is True
    assert acceptance.accept(1) is False  # the same generation again: already stored
    assert acceptance.accept(3) is True
    assert acceptance.in_effect == 3
    acceptance.resumed(2)  # a restarted process goes on with the stored spec of generation 2
    assert acceptance.in_effect == 2
    assert acceptance.accept(2) is False


def test_the_stored_spec_is_tried_once_per_refused_generation() -> None:
    acceptance = Acceptance()
    assert acceptance.should_resume(4)
    assert acceptance.should_resume(4)  # the try did not get an answer: try again
    acceptance.resume_tried = 4
    assert not acceptance.should_resume(4)
    assert acceptance.should_resume(5)
    assert Acceptance().should_resume(None)  # a body without a generation is tried too


def test_accepted_is_true_with_the_generation_and_posts_nothing_first() -> None:
    acceptance = Acceptance()
    acceptance.accept(2)
    item, events = spec_condition(acceptance, None, [], 2, NOW)
    assert (item["type"], item["status"], item["observedGeneration"]) == ("SpecAccepted", "True", 2)
    assert "generation 2 is in effect" in item["message"]
    assert events == []


def test_a_refused_edit_says_which_spec_goes_on_and_warns_once_per_generation() -> None:
    acceptance = Acceptance()
    acceptance.accept(2)
    refused, events = spec_condition(acceptance, BAD, [], 3, NOW)
    assert (refused["status"], refused["reason"], refused["observedGeneration"]) == (
        "False",
        "InvalidSpec",
        3,
    )
    assert refused["message"].endswith("the study goes on with the spec of generation 2")
    assert events == [Event("Warning", "InvalidSpec", BAD.message)]

    again, events = spec_condition(acceptance, BAD, [refused], 3, NOW + 60)
    assert again["status"] == "False"
    assert events == []
    _, events = spec_condition(acceptance, CHANGED, [refused], 3, NOW + 60)
    assert events == [Event("Warning", "SearchSpaceChanged", CHANGED.message)]  # a new reason
    _, events = spec_condition(acceptance, BAD, [refused], 4, NOW + 60)
    assert len(events) == 1  # a new generation refused


def test_accepting_again_after_a_refusal_posts_a_normal_event() -> None:
    acceptance = Acceptance()
    acceptance.accept(2)
    refused, _ = spec_condition(acceptance, BAD, [], 3, NOW)
    acceptance.accept(4)
    item, events = spec_condition(acceptance, None, [refused], 4, NOW)
    assert item["status"] == "True"
    assert item["observedGeneration"] == 4
    assert events == [Event("Normal", "SpecAccepted", item["message"])]


def test_a_spec_that_could_not_be_stored_is_said_in_the_condition() -> None:
    acceptance = Acceptance()
    acceptance.accept(1)
    acceptance.store_failed("a study journal entry of 900000 bytes does not fit")
    item, _ = spec_condition(acceptance, None, [], 1, NOW)
    assert item["status"] == "True"
    assert "could not be stored in the study (a study journal entry" in item["message"]
    acceptance.store_failed(None)
    item, _ = spec_condition(acceptance, None, [], 1, NOW)
    assert "could not be stored" not in item["message"]


def test_a_refused_spec_without_one_before_is_invalid_and_warns_once() -> None:
    status, events = refused_status(BAD, {}, 1, NOW)
    conditions = by_type(status)
    assert status["observedGeneration"] == 1
    assert conditions["Failed"]["reason"] == "InvalidSpec"
    assert conditions["SpecAccepted"]["status"] == "False"
    assert events == [Event("Warning", "InvalidSpec", BAD.message)]
    again, events = refused_status(BAD, status, 1, NOW + 60)
    assert again["conditions"] == status["conditions"]
    assert events == []


def test_a_started_study_with_no_usable_spec_keeps_its_status_and_waits() -> None:
    previous = {
        "startTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 2,
        "trials": {"succeeded": 3},
        "conditions": [{"type": "Running", "status": "True", "reason": "TrialsRunning"}],
    }
    status, events = refused_status(BAD, previous, 3, NOW, unusable="its search space changed")
    assert status["trials"] == {"succeeded": 3}
    assert status["observedGeneration"] == 3
    conditions = by_type(status)
    assert conditions["Running"]["status"] == "True"  # the study's state as last reported
    assert conditions["SpecAccepted"]["status"] == "False"
    assert (
        "waits for a spec it can accept (its search space changed)"
        in (conditions["SpecAccepted"]["message"])
    )
    assert events == [Event("Warning", "InvalidSpec", BAD.message)]
    _, events = refused_status(BAD, status, 3, NOW + 60)
    assert events == []
