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


JOB_API_VERSION = "batch/v1"
JOB_KIND = "Job"


class TrialTemplate(SpecModel):
    """The Job (or other workload) each trial runs as."""

    api_version: str = Field(
        default=JOB_API_VERSION,
        min_length=1,
        description=(
            "API version of the trial workload: batch/v1 (default) for a Job, or e.g. "
            "jobset.x-k8s.io/v1alpha2 or kubeflow.org/v1. The operator must be allowed to "
            "manage that kind (Helm value trialKinds)."
        ),
    )
    kind: str = Field(
        default=JOB_KIND,
        min_length=1,
        description=(
            "Kind of the trial workload: Job (default), or e.g. JobSet, PyTorchJob, TrainJob. "
            "For kinds other than Job, successCondition and failureCondition say when a trial "
            "ended, and primaryPod.labels which pod's log holds the metrics."
        ),
    )
    success_condition: str | None = Field(
        default=None,
        description=(
            "For kinds other than Job: the condition type in the workload's status.conditions "
            "that means the trial succeeded when True (e.g. Succeeded for a PyTorchJob, "
            "Completed for a JobSet). Required for those kinds."
        ),
    )
    failure_condition: str | None = Field(
        default=None,
        description=(
            "For kinds other than Job: the condition type that means the trial failed when "
            "True. Default: Failed."
        ),
    )

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
    # A batch/v1 JobSpec (or the spec of the trial kind) kept as data: kubetune only substitutes
    # ${params.NAME} and adds its own labels, env and deadline; everything else reaches the
    # cluster untouched.
    spec: dict[str, Any] = Field(
        description=(
            "A batch/v1 JobSpec for each trial (or the spec of trialTemplate.kind). Every "
            "${params.NAME} in a string is replaced by the trial's value of parameter NAME. "
            "kubetune adds its labels, the KUBETUNE_* environment variables and the trial "
            "deadline; the rest is passed on unchanged. A Job's template.spec needs at least one "
            "container; restartPolicy must be Never or OnFailure. Other kinds need at least one "
            "pod template (a template with spec.containers) somewhere in their spec."
        )
    )

    @property
    def is_job(self) -> bool:
        return self.api_version == JOB_API_VERSION and self.kind == JOB_KIND

    @property
    def group_version(self) -> tuple[str, str]:
        """(group, version) of apiVersion; the core group is ''."""
        group, _, version = self.api_version.rpartition("/")
        return group, version

    @property
    def plural(self) -> str:
        """The resource name of kind (lower case, plus s: jobs, jobsets, pytorchjobs)."""
        return self.kind.lower() + "s"

    @property
    def success_type(self) -> str:
        return self.success_condition or ("Complete" if self.is_job else "Succeeded")

    @property
    def failure_type(self) -> str:
        return self.failure_condition or "Failed"
