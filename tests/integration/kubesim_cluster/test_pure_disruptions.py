"""Unit tests for the pure rules: pod failure policy verdicts, index text, readiness taints."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kubesim.cluster.indexed import format_indexes, index_pod, parse_indexes
from tests.kubesim.cluster.node_lifecycle import desired_taints, eviction_delay
from tests.kubesim.cluster.pod_failure_policy import judge


def _failed_pod(*codes: tuple[str, int], conditions: list[dict[str, Any]] | None = None) -> Any:
    return {
        "metadata": {"namespace": "ns", "name": "p"},
        "status": {
            "phase": "Failed",
            "conditions": conditions or [],
            "containerStatuses": [
                {"name": name, "state": {"terminated": {"exitCode": code}}} for name, code in codes
            ],
        },
    }


def _policy(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(rules)}


DISRUPTED = [{"type": "DisruptionTarget", "status": "True"}]
IGNORE_DISRUPTION = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
FAIL_NON_ZERO = {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}}


def test_first_matching_rule_decides() -> None:
    policy = _policy(IGNORE_DISRUPTION, FAIL_NON_ZERO)
    assert judge(policy, _failed_pod(("main", 137), conditions=DISRUPTED)).action == "Ignore"
    verdict = judge(policy, _failed_pod(("main", 137)))
    assert verdict.action == "FailJob"
    assert verdict.message == (
        "Container main for pod ns/p failed with exit code 137 matching FailJob rule at index 1"
    )


def test_exit_code_zero_never_matches_and_no_match_counts() -> None:
    policy = _policy(FAIL_NON_ZERO)
    assert judge(policy, _failed_pod(("main", 0))).action == "Count"
    assert judge(None, _failed_pod(("main", 1))).action == "Count"


def test_container_name_and_in_operator() -> None:
    rule = {
        "action": "FailJob",
        "onExitCodes": {"containerName": "side", "operator": "In", "values": [3]},
    }
    assert judge(_policy(rule), _failed_pod(("main", 3), ("side", 1))).action == "Count"
    assert judge(_policy(rule), _failed_pod(("main", 1), ("side", 3))).action == "FailJob"


def test_condition_status_must_match() -> None:
    rule = {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "False"}],
    }
    assert judge(_policy(rule), _failed_pod(("main", 1), conditions=DISRUPTED)).action == "Count"
    verdict = judge(
        _policy({**IGNORE_DISRUPTION, "action": "FailJob"}), _failed_pod(conditions=DISRUPTED)
    )
    assert (
        verdict.message
        == "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0"
    )


@pytest.mark.parametrize(
    ("indexes", "text"),
    [(set(), None), ({0}, "0"), ({0, 1}, "0,1"), ({1, 3, 4, 5, 7}, "1,3-5,7"), ({0, 1, 2}, "0-2")],
)
def test_index_text_round_trips(indexes: set[int], text: str | None) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text) == indexes


def test_index_pod_adds_env_annotation_label_and_hostname() -> None:
    pod: dict[str, Any] = {
        "metadata": {"labels": {}, "annotations": {}},
        "spec": {"containers": [{"name": "main"}]},
    }
    index_pod(pod, "train", 2, None)
    assert pod["metadata"]["generateName"] == "train-2-"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert pod["spec"]["hostname"] == "train-2"
    [env] = pod["spec"]["containers"][0]["env"]
    assert env["name"] == "JOB_COMPLETION_INDEX"
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    )


def _node(ready: str | None, taints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {"spec": {"taints": taints or []}, "status": {"conditions": conditions}}


def test_readiness_taints_follow_the_ready_condition() -> None:
    keep = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}
    assert desired_taints(_node("True", [keep])) == [keep]
    not_ready = desired_taints(_node("False", [keep]))
    assert [(t["key"], t["effect"]) for t in not_ready] == [
        ("nvidia.com/gpu", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
    ]
    assert "timeAdded" in not_ready[-1]
    assert desired_taints(_node("False", not_ready)) == not_ready  # stable: no patch loop
    assert desired_taints(_node("Unknown"))[0]["key"] == "node.kubernetes.io/unreachable"


def test_eviction_delay_honours_toleration_seconds() -> None:
    node = {"spec": {"taints": desired_taints(_node("False"))}}
    assert eviction_delay({"spec": {}}, node) == 0.0
    forever = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    assert eviction_delay({"spec": {"tolerations": [forever]}}, node) is None
    bounded = {**forever, "tolerationSeconds": 60}
    delay = eviction_delay({"spec": {"tolerations": [bounded]}}, node)
    assert delay is not None
    assert 55 < delay <= 60
