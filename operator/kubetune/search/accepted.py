"""The spec a TuningJob's study goes on with, stored in the study: what the operator runs when
the TuningJob's current spec is refused (an edit that does not validate)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from kubetune.api.errors import SpecError
from kubetune.api.loading import parse_tuningjob
from kubetune.api.spec import TuningJob
from kubetune.names import API_VERSION, KIND

# The spec the study goes on with: {"generation": <int or null>, "spec": <the TuningJob's spec>}.
ATTR_ACCEPTED_SPEC = "kubetune.acceptedSpec"


class NoAcceptedSpec(LookupError):
    """A study opened with :meth:`StudyStore.open_accepted` has no spec stored as accepted that
    can be used: no such study, none stored (a study started before specs were stored), or
    (``stored``) the one stored no longer validates."""

    def __init__(self, message: str, *, stored: bool = False) -> None:
        super().__init__(message)
        self.stored = stored


@dataclass(frozen=True)
class AcceptedSpec:
    """The spec a TuningJob's study goes on with, as stored in the study."""

    generation: int | None
    spec: dict[str, Any]  # the TuningJob's ``spec``, as JSON

    @classmethod
    def of(cls, value: Any) -> AcceptedSpec | None:
        """The accepted spec stored as ``value`` (the study attribute), None if malformed."""
        if not isinstance(value, Mapping) or not isinstance(value.get("spec"), Mapping):
            return None
        generation = value.get("generation")
        if generation is not None and type(generation) is not int:
            return None
        return cls(generation, dict(value["spec"]))


def accepted_job(metadata: Mapping[str, Any], storage: optuna.storages.BaseStorage) -> TuningJob:
    """The TuningJob of ``metadata`` with the spec its study stored as accepted."""
    name = metadata.get("name")
    if not isinstance(name, str):
        raise NoAcceptedSpec("the TuningJob has no name")
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        raise NoAcceptedSpec(f"TuningJob {name!r} has no study") from None
    attrs = storage.get_study_user_attrs(study_id)
    accepted = AcceptedSpec.of(attrs.get(ATTR_ACCEPTED_SPEC))
    if accepted is None:
        raise NoAcceptedSpec(f"the study of TuningJob {name!r} stores no accepted spec")
    manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": dict(metadata),
        "spec": accepted.spec,
    }
    try:
        return parse_tuningjob(manifest)
    except SpecError as error:
        problems = "; ".join(str(e) for e in error.errors)
        raise NoAcceptedSpec(
            f"the spec of generation {accepted.generation} stored as accepted no longer "
            f"validates: {problems}",
            stored=True,
        ) from None
