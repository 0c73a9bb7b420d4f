"""Reusing earlier searches: ``initialTrials`` (points to evaluate first) and ``warmStart``
(parents whose completed trials seed the study). Rules across fields: ``validation.reuse``;
what the study does with them: ``kubetune.search.seeding`` and ``kubetune.search.warm_start``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kubetune.api.spec.base import RESOURCE_NAME_PATTERN, SpecModel
from kubetune.api.spec.parameters import CategoricalValue

WarmStartType = Literal["identicalDataAndAlgorithm", "transferLearning"]
MAX_WARM_START_PARENTS = 5
InitialTrial = dict[str, CategoricalValue]
"""One point of the space to evaluate first: a value for every parameter, by name."""


class WarmStartParent(SpecModel):
    """A TuningJob whose completed trials seed this one."""

    name: Annotated[str, Field(pattern=RESOURCE_NAME_PATTERN, max_length=253)] = Field(
        description=(
            "Name of the parent TuningJob. On a cluster its study journal is read from its "
            "ConfigMaps; with kubetune run, the run of that name under --output-dir (or the "
            "study of that name in --storage)."
        )
    )
    namespace: str | None = Field(
        default=None,
        description="Namespace of the parent (cluster only). Unset: this TuningJob's namespace.",
    )


class WarmStart(SpecModel):
    """Seed the search with the completed trials of up to five earlier TuningJobs."""

    type: WarmStartType = Field(
        description=(
            "identicalDataAndAlgorithm: the parents trained the same model on the same data, so "
            "their results are used as they are; parameter names and types must match (ranges "
            "may differ: a parent trial outside the new ranges informs the model but is never "
            "this job's best). transferLearning: related, not identical: parameters may be "
            "added (a parent trial gets a random value for them) or removed, and each parent's "
            "objective values are standardized (mean 0, standard deviation 1) and put on this "
            "job's scale once it has results of its own."
        )
    )
    parents: Annotated[
        list[WarmStartParent], Field(min_length=1, max_length=MAX_WARM_START_PARENTS)
    ] = Field(
        description=(
            "1 to 5 parent TuningJobs, unique. Their completed trials are loaded once, before "
            "this job's first suggestion; a parent that cannot be found is an InvalidSpec error "
            "(kubetune run: exit 2), never a silent cold start."
        )
    )

    @property
    def transfer(self) -> bool:
        return self.type == "transferLearning"
