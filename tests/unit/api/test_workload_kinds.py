"""Trials of kinds other than Job: what the spec must say, and how they render."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api import SpecError, parse_tuningjob
from kubetune.api.workloads import pod_templates
from kubetune.controller.template import primary_container_name, render_trial_job

from tests.unit.manifests import manifest

MASTER = {
    "replicas": 1,
    "restartPolicy": "Never",
    "template": {
        "spec": {
            "containers": [
                {"name": "pytorch", "image": "x", "command": ["python", "t.py", "--x=${params.x}"]}
            ]
        }
    },
}


def pytorchjob(**template: Any) -> dict[str, Any]:
    document = manifest()
    document["spec"]["trialTemplate"] = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "successCondition": "Succeeded",
        "primaryPod": {"labels": {"training.kubeflow.org/replica-type": "master"}},
        "spec": {"pytorchReplicaSpecs": {"Master": MASTER, "Worker": {**MASTER, "replicas": 2}}},
        **template,
    }
    return document


def test_a_pytorchjob_trial_renders_with_labels_and_env_in_every_pod_template() -> None:
    job = parse_tuningjob(pytorchjob())
    rendered = render_trial_job(job, 4, {"x": 0.5, "n": 1, "kind": "a"})
    assert (rendered["apiVersion"], rendered["kind"]) == ("kubeflow.org/v1", "PyTorchJob")
    assert "podFailurePolicy" not in rendered["spec"]  # JobSpec fields only for Jobs
    pods = pod_templates(rendered["spec"])
    assert len(pods) == 2
    for pod in pods:
        assert pod["metadata"]["labels"]["kubetune.io/trial"] == "4"
        env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
        assert env["KUBETUNE_TRIAL_NUMBER"] == "4"
        assert pod["spec"]["containers"][0]["command"][-1] == "--x=0.5"
    assert primary_container_name(job) == "pytorch"
    assert job.spec.trial_template.plural == "pytorchjobs"
    assert job.spec.trial_template.group_version == ("kubeflow.org", "v1")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"successCondition": None}, "spec.trialTemplate.successCondition", "required for kind"),
        ({"apiVersion": "v1"}, "spec.trialTemplate.apiVersion", "group/version"),
        ({"spec": {"runPolicy": {}}}, "spec.trialTemplate.spec", "no pod template"),
        ({"primaryContainer": "nope"}, "spec.trialTemplate.primaryContainer", "'nope'"),
    ],
)
def test_bad_workload_templates_are_refused_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    document = pytorchjob(**change)
    if change.get("successCondition", "") is None:
        del document["spec"]["trialTemplate"]["successCondition"]
    with pytest.raises(SpecError) as error:
        parse_tuningjob(document)
    found = {e.path: e.message for e in error.value.errors}
    assert field in found, found
    assert words in found[field]


def test_a_job_takes_no_success_condition() -> None:
    document = manifest()
    document["spec"]["trialTemplate"]["successCondition"] = "Complete"
    with pytest.raises(SpecError) as error:
        parse_tuningjob(document)
    assert "spec.trialTemplate.successCondition" in {e.path for e in error.value.errors}
