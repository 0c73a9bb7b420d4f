"""The trial Job (``render_trial_job``) and trial names (``trial_name``)."""

from __future__ import annotations

import copy
import json
import re
import string
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from kubetune.api import TuningJob, parse_tuningjob
from kubetune.controller.template import render_trial_job
from kubetune.names import (
    LABEL_TRIAL,
    LABEL_TUNINGJOB,
    MAX_LABEL_LENGTH,
    trial_name,
    tuningjob_label,
)

from tests.unit.manifests import api_example, container, manifest, tweak

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PARAMS: dict[str, Any] = {"x": 0.25, "n": 4, "kind": "huber"}
ENV_NAMES = [
    "KUBETUNE_TRIAL_NAME",
    "KUBETUNE_TRIAL_NUMBER",
    "KUBETUNE_TUNINGJOB",
    "KUBETUNE_PARAMS",
]

AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {
                            "key": "nvidia.com/gpu.product",
                            "operator": "In",
                            "values": ["NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3"],
                        }
                    ]
                }
            ]
        }
    }
}
TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
NODE_SELECTOR = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
RESOURCES = {"limits": {"nvidia.com/gpu": 2, "memory": "32Gi"}, "requests": {"cpu": "4"}}


def gpu_manifest(**options: Any) -> dict[str, Any]:
    """A TuningJob whose trials use placeholders everywhere and ask for GPUs."""
    train = container(
        command=["python", "train.py"],
        args=[
            "--x=${params.x}",
            "--n",
            "${params.n}",
            "--kind=${params.kind}",
            "--tag=${params.kind}-${params.n}",
            "--shell=$(HOME) ${HOME} ${other.x}",
        ],
        env=[
            {"name": "LR", "value": "${params.x}"},
            {"name": "KUBETUNE_TRIAL_NAME", "value": "user-set"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        workingDir="/runs/${params.kind}",
        resources=RESOURCES,
    )
    sidecar = {"name": "logger", "image": "busybox", "args": ["tail", "${params.n}"]}
    document = manifest(
        name=options.pop("name", "gbm"),
        containers=[train, sidecar],
        pod={
            "nodeSelector": NODE_SELECTOR,
            "tolerations": TOLERATIONS,
            "affinity": AFFINITY,
            "volumes": [{"name": "data", "hostPath": {"path": "/data/${params.kind}"}}],
        },
        **options,
    )
    document["metadata"]["namespace"] = "ml"
    document["spec"]["trialTemplate"]["metadata"] = {
        "labels": {"team": "search"},
        "annotations": {"owner": "ml-platform"},
    }
    document["spec"]["trialTemplate"]["spec"]["template"]["metadata"] = {"labels": {"app": "train"}}
    return document


def gpu_job(**options: Any) -> TuningJob:
    return parse_tuningjob(gpu_manifest(**options))


def pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def env_of(container_: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container_["env"]}


# --- substitution ---------------------------------------------------------------------------


def test_parameters_are_substituted_in_every_string() -> None:
    rendered = render_trial_job(gpu_job(), 3, PARAMS)
    train, sidecar = pod_spec(rendered)["containers"]

    assert train["command"] == ["python", "train.py"]
    assert train["args"] == [
        "--x=0.25",
        "--n",
        "4",
        "--kind=huber",
        "--tag=huber-4",
        "--shell=$(HOME) ${HOME} ${other.x}",
    ]
    assert env_of(train)["LR"] == "0.25"
    assert train["workingDir"] == "/runs/huber"
    assert sidecar["args"] == ["tail", "4"]
    assert pod_spec(rendered)["volumes"] == [{"name": "data", "hostPath": {"path": "/data/huber"}}]
    assert "${params." not in json.dumps(rendered)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (1.0, "1.0"),
        (1e-05, "1e-05"),
        (3, "3"),
        (-2, "-2"),
        (True, "true"),
        (False, "false"),
        ("relu", "relu"),
        (2.5e20, "2.5e+20"),
    ],
)
def test_how_values_are_written(value: Any, text: str) -> None:
    job = parse_tuningjob(
        manifest(
            parameters=[{"name": "v", "type": "categorical", "values": [value]}],
            containers=[container(command=["run", "--v=${params.v}"])],
        )
    )
    rendered = render_trial_job(job, 0, {"v": value})
    assert pod_spec(rendered)["containers"][0]["command"] == ["run", f"--v={text}"]


def test_the_template_is_not_modified() -> None:
    job = gpu_job()
    before = copy.deepcopy(job.spec.trial_template.spec)
    first = render_trial_job(job, 1, PARAMS)
    render_trial_job(job, 2, {"x": 0.5, "n": 1, "kind": "a"})
    assert job.spec.trial_template.spec == before
    assert render_trial_job(job, 1, PARAMS) == first


# --- what kubetune adds ---------------------------------------------------------------------


def test_kubetune_env_in_every_container() -> None:
    rendered = render_trial_job(gpu_job(), 7, PARAMS)
    for container_ in pod_spec(rendered)["containers"]:
        env = env_of(container_)
        assert env["KUBETUNE_TRIAL_NAME"] == "gbm-7"
        assert env["KUBETUNE_TRIAL_NUMBER"] == "7"
        assert env["KUBETUNE_TUNINGJOB"] == "gbm"
        assert json.loads(env["KUBETUNE_PARAMS"]) == PARAMS
        names = [item["name"] for item in container_["env"]]
        assert names.count("KUBETUNE_TRIAL_NAME") == 1  # the user's value is replaced
    train_env = [item["name"] for item in pod_spec(rendered)["containers"][0]["env"]]
    assert train_env == ["LR", "POD", *ENV_NAMES]


def test_labels_on_the_job_and_its_pods() -> None:
    rendered = render_trial_job(gpu_job(), 12, PARAMS)
    ours = {LABEL_TUNINGJOB: "gbm", LABEL_TRIAL: "12"}

    job_labels = rendered["metadata"]["labels"]
    pod_labels = rendered["spec"]["template"]["metadata"]["labels"]
    assert job_labels.items() >= {**ours, "team": "search"}.items()
    assert pod_labels.items() >= {**ours, "app": "train"}.items()
    assert rendered["metadata"]["annotations"]["owner"] == "ml-platform"
    assert json.loads(rendered["metadata"]["annotations"]["kubetune.io/parameters"]) == PARAMS


def test_user_labels_cannot_hide_the_trial_labels() -> None:
    document = gpu_manifest()
    document["spec"]["trialTemplate"]["metadata"]["labels"][LABEL_TRIAL] = "999"
    rendered = render_trial_job(parse_tuningjob(document), 1, PARAMS)
    assert rendered["metadata"]["labels"][LABEL_TRIAL] == "1"


def test_scheduling_and_gpu_requests_are_carried_through_untouched() -> None:
    rendered = render_trial_job(gpu_job(), 0, PARAMS)
    pod = pod_spec(rendered)
    assert pod["nodeSelector"] == NODE_SELECTOR
    assert pod["tolerations"] == TOLERATIONS
    assert pod["affinity"] == AFFINITY
    assert pod["containers"][0]["resources"] == RESOURCES
    assert pod["containers"][0]["image"] == "example.com/train:1"


def test_job_identity_and_defaults() -> None:
    rendered = render_trial_job(gpu_job(), 5, PARAMS)
    assert rendered["apiVersion"] == "batch/v1"
    assert rendered["kind"] == "Job"
    assert rendered["metadata"]["name"] == "gbm-5"
    assert rendered["metadata"]["namespace"] == "ml"
    assert rendered["spec"]["backoffLimit"] == 0
    assert pod_spec(rendered)["restartPolicy"] == "Never"
    assert "activeDeadlineSeconds" not in rendered["spec"]
    assert "ownerReferences" not in rendered["metadata"]


def test_user_backoff_limit_and_restart_policy_are_kept() -> None:
    document = gpu_manifest(job_spec={"backoffLimit": 2})
    document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    rendered = render_trial_job(parse_tuningjob(document), 0, PARAMS)
    assert rendered["spec"]["backoffLimit"] == 2
    assert pod_spec(rendered)["restartPolicy"] == "OnFailure"


@pytest.mark.parametrize(
    ("timeout", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("1.5s", 2)]
)
def test_trial_timeout_becomes_the_active_deadline(timeout: str, seconds: int) -> None:
    rendered = render_trial_job(gpu_job(limits={"trialTimeout": timeout}), 0, PARAMS)
    assert rendered["spec"]["activeDeadlineSeconds"] == seconds


def test_owner_reference_when_the_uid_is_known() -> None:
    rendered = render_trial_job(gpu_job(), 0, PARAMS, owner_uid="6f1c-42")
    assert rendered["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "TuningJob",
            "name": "gbm",
            "uid": "6f1c-42",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_api_example_renders() -> None:
    job = parse_tuningjob(api_example())
    params: dict[str, float | int | str] = {
        "learning_rate": 0.042,
        "max_depth": 4,
        "subsample": 0.83,
        "loss": "huber",
    }
    rendered = render_trial_job(job, 17, params)
    [train] = pod_spec(rendered)["containers"]
    assert train["command"] == ["python", "train.py", "--learning-rate=0.042", "--max-depth=4"]
    assert train["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert rendered["metadata"]["name"] == "gbm-diabetes-17"
    assert rendered["spec"]["activeDeadlineSeconds"] == 1800


# --- long names -----------------------------------------------------------------------------


def long_name(length: int) -> str:
    return ("a-" * length)[: length - 1] + "z"


def test_a_253_character_tuningjob_still_makes_valid_names_and_labels() -> None:
    name = long_name(253)
    job = parse_tuningjob(tweak(manifest(), "metadata.name", name))
    rendered = render_trial_job(job, 123456, {"x": 0.5, "n": 1, "kind": "a"})

    job_name = rendered["metadata"]["name"]
    assert len(job_name) <= MAX_LABEL_LENGTH
    assert DNS_LABEL.match(job_name)
    assert job_name.endswith("-123456")
    pod_labels = rendered["spec"]["template"]["metadata"]["labels"]
    labels = {**rendered["metadata"]["labels"], **pod_labels}
    for value in labels.values():
        assert len(value) <= 63, value
        assert DNS_LABEL.match(value), value
    env = env_of(pod_spec(rendered)["containers"][0])
    assert env["KUBETUNE_TRIAL_NAME"] == job_name
    assert env["KUBETUNE_TUNINGJOB"] == name  # the real name, where there is no limit


@pytest.mark.parametrize("length", [63, 64, 120, 253])
def test_a_tuningjob_has_one_label_value_on_its_jobs_and_pods(length: int) -> None:
    # The operator finds a TuningJob's Jobs and pods (and its study journal) by this one value:
    # a trial labelled with another shortening would be lost to its TuningJob.
    name = long_name(length)
    job = parse_tuningjob(tweak(manifest(), "metadata.name", name))
    rendered = render_trial_job(job, 7, {"x": 0.5, "n": 1, "kind": "a"})
    pod_labels = rendered["spec"]["template"]["metadata"]["labels"]
    expected = tuningjob_label(name)
    assert rendered["metadata"]["labels"][LABEL_TUNINGJOB] == expected
    assert pod_labels[LABEL_TUNINGJOB] == expected
    assert pod_labels["app.kubernetes.io/instance"] == expected
    assert (expected == name) is (length <= MAX_LABEL_LENGTH)


@pytest.mark.parametrize(
    ("length", "number", "shortened"),
    [(61, 0, False), (61, 10, True), (60, 99, False), (62, 1, True)],
)
def test_names_are_shortened_only_when_too_long(length: int, number: int, shortened: bool) -> None:
    name = long_name(length)
    result = trial_name(name, number)
    assert (result != f"{name}-{number}") is shortened
    assert len(result) <= MAX_LABEL_LENGTH


def test_tuningjob_label_is_the_name_when_it_fits() -> None:
    assert tuningjob_label(long_name(63)) == long_name(63)
    shortened = tuningjob_label(long_name(64))
    assert shortened != long_name(64)
    assert len(shortened) <= 63
    assert DNS_LABEL.match(shortened)


def test_shortened_names_share_a_stable_prefix() -> None:
    name = long_name(200)
    first, second = trial_name(name, 1), trial_name(name, 2)
    assert first.removesuffix("-1") == second.removesuffix("-2")
    assert trial_name(name, 1) == first


DNS_NAMES = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?\Z")
NUMBERS = st.integers(0, 10**9)


@given(DNS_NAMES, NUMBERS)
def test_trial_names_are_valid_dns_labels(name: str, number: int) -> None:
    result = trial_name(name, number)
    assert len(result) <= MAX_LABEL_LENGTH
    assert DNS_LABEL.match(result)
    assert result.endswith(f"-{number}")
    label = tuningjob_label(name)
    assert len(label) <= MAX_LABEL_LENGTH
    assert DNS_LABEL.match(label)


@given(DNS_NAMES, NUMBERS, DNS_NAMES, NUMBERS)
def test_distinct_inputs_give_distinct_names(
    name: str, number: int, other: str, other_number: int
) -> None:
    assume((name, number) != (other, other_number))
    assert trial_name(name, number) != trial_name(other, other_number)


@given(st.text(string.ascii_lowercase, min_size=60, max_size=253), NUMBERS)
def test_long_names_with_a_common_prefix_stay_distinct(tail: str, number: int) -> None:
    prefix = "experiment-" * 6
    assert trial_name(prefix + tail, number) != trial_name(prefix + tail + "x", number)


# --- interruptions ---------------------------------------------------------------------------


def test_a_pod_failure_policy_reruns_interrupted_pods_and_fails_on_exit_codes() -> None:
    rendered = render_trial_job(gpu_job(), 1, PARAMS)
    rules = rendered["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    assert rules[1] == {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}}


def test_the_templates_own_pod_failure_policy_is_kept() -> None:
    document = gpu_manifest()
    own = {"rules": [{"action": "Count", "onExitCodes": {"operator": "In", "values": [3]}}]}
    document["spec"]["trialTemplate"]["spec"]["podFailurePolicy"] = own
    assert render_trial_job(parse_tuningjob(document), 1, PARAMS)["spec"]["podFailurePolicy"] == own


def test_no_pod_failure_policy_with_restart_policy_on_failure() -> None:
    document = gpu_manifest()
    document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert "podFailurePolicy" not in render_trial_job(parse_tuningjob(document), 1, PARAMS)["spec"]
