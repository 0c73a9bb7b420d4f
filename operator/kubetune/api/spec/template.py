"""``spec.trialTemplate``: the Job that runs one trial."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kubetune.api.spec.base import (
    SpecModel,
)


class TemplateMetadata(SpecModel):
    """Labels and annotations copied onto every trial Job."""

    labels: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Labels added to each trial Job (kubetune adds kubetune.io/tuningjob and "
            "kubetune.io/trial itself). Default: none."
        ),
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations added to each trial Job. Default: none."
    )


class PrimaryPod(SpecModel):
    """Which pod of a multi-pod trial holds the metrics."""

    labels: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Labels the pod whose log holds the metrics carries, e.g. "
            "{batch.kubernetes.io/job-completion-index: '1'}. Default for an Indexed Job: "
            "completion index 0."
        ),
    )


class TrialTemplate(SpecModel):
    """The Job each trial runs as."""

    primary_container: str | None = Field(
        default=None,
        description=(
            "Name of the container that runs the training and whose logs hold the metrics. "
            "Unset: the first container."
        ),
    )
    primary_pod: PrimaryPod | None = Field(
        default=None,
        description=(
            "For a trial of several pods (an Indexed Job): which pod's log holds the metrics, "
            "final and live. Unset: the pod of completion index 0 (the only pod of an ordinary "
            "Job)."
        ),
    )
    metadata: TemplateMetadata = Field(
        default_factory=TemplateMetadata,
        description="Labels and annotations copied onto each trial Job.",
    )
    # A batch/v1 JobSpec kept as data: kubetune only substitutes ${params.NAME} and adds its own
    # labels, env and deadline; everything else reaches the cluster untouched.
    spec: dict[str, Any] = Field(
        description=(
            "A batch/v1 JobSpec for each trial. Every ${params.NAME} in a string is replaced by "
            "the trial's value of parameter NAME. kubetune adds its labels, the KUBETUNE_* "
            "environment variables and the trial deadline; the rest is passed on unchanged. "
            "template.spec needs at least one container; restartPolicy must be Never or "
            "OnFailure."
        )
    )
