"""Which spec of a TuningJob is in effect, and what its SpecAccepted condition says.

Pure: a small record of what this process accepted and stored, and functions from it (and the
status last written) to the SpecAccepted condition, the status of a TuningJob with no usable
spec, and the Events each transition posts. ``ClusterSession`` does the I/O around it.

The rules:

- An accepted generation is in effect; a refused edit leaves the spec last accepted in effect
  (the study goes on with it) and SpecAccepted is False, naming both.
- A Warning Event per refused generation (or a new reason); a Normal one when SpecAccepted
  goes back to True.
- A process that accepted nothing yet (it restarted while an edit is refused) tries, once per
  generation, to go on with the spec the study stored as accepted.
- With no spec at all: never started, the TuningJob is InvalidSpec; started before, its status
  stays as last reported and SpecAccepted says it waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubetune.api.status import AuxiliaryConditionType, Reason
from kubetune.controller.status import (
    find_condition,
    invalid_status,
    merge_conditions,
    put_condition,
    spec_accepted,
    spec_refused,
)

NOT_YET = object()
"""No generation (yet): distinct from a generation of None (a body without one)."""


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the TuningJob."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Refusal:
    """Why the spec of the TuningJob's current generation cannot be accepted."""

    reason: Reason
    message: str


@dataclass
class Acceptance:
    """What this process accepted of a TuningJob's specs, and stored in its study."""

    in_effect: int | None = None
    """The generation whose spec the study goes on with (None: unknown or none)."""
    stored: object = NOT_YET
    """The generation whose spec was last stored in the study as accepted."""
    not_stored: str | None = None
    """Why the spec in effect could not be stored, if it could not."""
    resume_tried: object = NOT_YET
    """The refused generation for which the stored spec was last tried."""

    def accept(self, generation: int | None) -> bool:
        """``generation`` is accepted; whether its spec still has to be stored in the study."""
        self.in_effect = generation
        if self.stored == generation:
            return False
        self.stored = generation
        return True

    def store_failed(self, error: str | None) -> None:
        self.not_stored = error

    def should_resume(self, generation: int | None) -> bool:
        """Whether to try the spec stored in the study: once per refused generation (the
        caller sets ``resume_tried`` once the try got an answer)."""
        return self.resume_tried != generation

    def resumed(self, generation: int | None) -> None:
        """Going on with the stored spec of ``generation`` (already in the study)."""
        self.in_effect = generation
        self.stored = generation


def spec_condition(
    acceptance: Acceptance,
    refusal: Refusal | None,
    before_conditions: list[dict[str, Any]],
    generation: int | None,
    now: float,
) -> tuple[dict[str, Any], list[Event]]:
    """SpecAccepted while a spec is in effect: True, or False while an edit is refused; and
    the Events of the transition."""
    before = find_condition(before_conditions, AuxiliaryConditionType.SPEC_ACCEPTED.value)
    events = []
    if refusal is None:
        item = spec_accepted(now, generation)
        if before is not None and before.get("status") == "False":
            events.append(Event("Normal", item["type"], item["message"]))
    else:
        in_effect = acceptance.in_effect
        message = (
            f"{refusal.message}; the study goes on with the spec of generation {in_effect}"
            if in_effect is not None
            else f"{refusal.message}; the study goes on with the spec accepted before"
        )
        item = spec_refused(refusal.reason, message, now, generation)
        if condition_changed(before, item):
            events.append(Event("Warning", refusal.reason.value, refusal.message))
    if acceptance.not_stored is not None:
        item["message"] += (
            f"; that spec could not be stored in the study ({acceptance.not_stored}): if the "
            "operator restarts while an edit is refused, the study waits until a spec is "
            "accepted again"
        )
    return item, events


def refused_status(
    refusal: Refusal,
    previous: Mapping[str, Any],
    generation: int | None,
    now: float,
    unusable: str | None = None,
) -> tuple[dict[str, Any], list[Event]]:
    """The status when no spec is in effect: none accepted by this process, nor one stored in
    the study that can be used (``unusable``: why not, if one is stored)."""
    before_conditions = previous.get("conditions") or []
    if not previous.get("startTime"):
        # Never accepted: nothing was launched and nothing will be (InvalidSpec).
        status = invalid_status(refusal.message, now, generation, refusal.reason)
        status["conditions"] = merge_conditions(before_conditions, status["conditions"])
        changed = before_conditions != status["conditions"]
    else:
        # Its study started under a spec accepted before the operator restarted, an edit
        # refused since stands, and the study stores no accepted spec that can be used (it
        # started before specs were stored, or that spec no longer validates): the study's
        # state stays as last reported (its trials are recorded once a spec is accepted
        # again), and the edit is reported.
        why = unusable or "the spec it went on with is not known since the operator restarted"
        message = f"{refusal.message}; the study waits for a spec it can accept ({why})"
        item = spec_refused(refusal.reason, message, now, generation)
        before = find_condition(before_conditions, item["type"])
        changed = condition_changed(before, item)
        status = {**previous, "observedGeneration": generation}
        status["conditions"] = put_condition(before_conditions, item, before_conditions)
    events = [Event("Warning", refusal.reason.value, refusal.message)] if changed else []
    return status, events


def condition_changed(before: Mapping[str, Any] | None, item: Mapping[str, Any]) -> bool:
    """Whether ``item`` says something ``before`` (the same condition, as last written) did
    not: another status, reason or generation (a message may be worded differently)."""
    keys = ("status", "reason", "observedGeneration")
    return before is None or any(before.get(k) != item.get(k) for k in keys)
