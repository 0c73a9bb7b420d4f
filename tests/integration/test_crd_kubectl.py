"""The TuningJob CRD with the real ``kubectl`` against kubesim: install, explain, admission.

``kubetune crd | kubectl apply -f -`` installs it; ``kubectl explain`` shows the field
descriptions written in ``kubetune/api/spec``; the API server rejects structurally invalid
TuningJobs (``maxTrials: 0``), refuses cross-field mistakes and edits of ``spec.parameters``
with its CEL rules, and prunes nothing a valid one needs.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubetune.api.spec import Limits
from kubetune.cli.main import cli
from kubetune.names import CRD_NAME

from tests.kubesim.harness import KubeSim, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = REPO_ROOT / "examples" / "quickstart.yaml"


class Kubectl:
    def __init__(self, binary: Path, sim: KubeSim) -> None:
        self.binary = binary
        self.env = sim.env()

    def __call__(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result


@pytest.fixture(scope="module")
def kubectl(kubesim_api: KubeSim, kube_binaries: dict[str, Path]) -> Kubectl:
    run = Kubectl(kube_binaries["kubectl"], kubesim_api)
    printed = CliRunner().invoke(cli, ["crd"])
    assert printed.exit_code == 0, printed.output
    run("apply", "-f", "-", stdin=printed.output)
    wait_until(
        lambda: run("explain", "tuningjob", check=False).returncode == 0,
        timeout=20,
        message="the TuningJob resource to be served",
    )
    return run


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    name = f"crd-{uuid.uuid4().hex[:8]}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    kubectl("apply", "-f", "-", stdin=json.dumps(namespace))
    return name


def quickstart(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    document["metadata"]["name"] = name
    return document


def patch_status(kubectl: Kubectl, name: str, namespace: str, status: dict[str, Any]) -> None:
    """Write a TuningJob's status as the operator does: a merge patch of the subresource."""
    body = json.dumps({"status": status})
    kubectl(
        "patch", "tj", name, "-n", namespace, "--subresource=status", "--type=merge", "-p", body
    )


def printed_row(table: str) -> dict[str, str]:
    """The one row of ``kubectl get``'s table by column header (empty cells kept: kubectl
    aligns the columns, and a cell starts where its header does)."""
    header, row = table.splitlines()[:2]
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    ends = [*starts[1:], None]
    return {
        header[start:end].strip(): row[start:end].strip()
        for start, end in zip(starts, ends, strict=True)
    }


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_installed_crd_is_the_committed_file(kubectl: Kubectl) -> None:
    installed = json.loads(kubectl("get", "crd", CRD_NAME, "-o", "json").stdout)
    committed = yaml.safe_load((REPO_ROOT / "crds" / f"{CRD_NAME}.yaml").read_text())
    assert installed["spec"]["names"] == committed["spec"]["names"]
    assert installed["spec"]["versions"][0]["schema"] == committed["spec"]["versions"][0]["schema"]


def test_explain_shows_the_model_descriptions(kubectl: Kubectl) -> None:
    output = one_line(kubectl("explain", "tuningjob.spec.limits").stdout)
    for field, info in Limits.model_fields.items():
        assert info.alias in output, field
        assert one_line(str(info.description)) in output, field
    assert "How many trials to run in total (failed and stopped trials count)." in output


def test_explain_reaches_nested_fields(kubectl: Kubectl) -> None:
    output = one_line(kubectl("explain", "tj.spec.parameters.scale").stdout)
    assert "reverseLog" in output
    root = one_line(kubectl("explain", "tuningjob").stdout)
    assert "A hyperparameter search" in root


def test_invalid_tuningjob_is_rejected(kubectl: Kubectl, namespace: str) -> None:
    document = quickstart("zero-trials")
    document["spec"]["limits"]["maxTrials"] = 0
    result = kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    assert result.returncode != 0
    assert "spec.limits.maxTrials" in result.stderr
    assert "greater than or equal to 1" in result.stderr
    missing = kubectl("get", "tj", "zero-trials", "-n", namespace, check=False)
    assert missing.returncode != 0


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("objective", "direction"), "up", "spec.objective.direction"),
        (("limits", "trialTimeout"), "30", "spec.limits.trialTimeout"),
        (("strategy", "algorithm"), "sobol", "spec.strategy.algorithm"),
    ],
)
def test_other_structural_errors_are_rejected(
    kubectl: Kubectl, namespace: str, path: tuple[str, str], value: Any, message: str
) -> None:
    document = quickstart("bad")
    document["spec"].setdefault(path[0], {})[path[1]] = value
    result = kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_valid_tuningjob_is_stored_with_defaults_and_listed(
    kubectl: Kubectl, namespace: str
) -> None:
    document = quickstart("quickstart")
    kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document))
    stored = json.loads(kubectl("get", "tj", "quickstart", "-n", namespace, "-o", "json").stdout)
    expected = copy.deepcopy(document["spec"])
    expected["limits"]["maxFailedTrials"] = 3  # the CRD's defaults, equal to the model's
    expected["limits"]["maxTrialRetries"] = 2
    expected["trialTemplate"].update(apiVersion="batch/v1", kind="Job")
    assert stored["spec"] == expected
    header = kubectl("get", "tuningjobs", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "STATUS", "SUCCEEDED", "TOTAL", "BEST", "FRONT", "AGE"]


def test_unknown_fields_fail_kubectl_strict_validation(kubectl: Kubectl, namespace: str) -> None:
    document = quickstart("typo")
    document["spec"]["limits"]["maxTrial"] = 5
    result = kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    assert result.returncode != 0
    assert "maxTrial" in result.stderr


def test_printer_columns_read_the_status(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(quickstart("done")))
    status = {
        "conditions": [
            {
                "type": "Running",
                "status": "False",
                "reason": "MaxTrialsReached",
                "message": "24 trials ran",
                "lastTransitionTime": "2026-01-01T01:00:00Z",
            },
            {
                "type": "Complete",
                "status": "True",
                "reason": "MaxTrialsReached",
                "message": "24 trials ran",
                "lastTransitionTime": "2026-01-01T01:00:00Z",
            },
        ],
        "trials": {"active": 0, "succeeded": 23, "failed": 1, "pruned": 0, "total": 24},
        "bestTrial": {
            "name": "done-7",
            "number": 7,
            "parameters": {"learning_rate": 0.05, "loss": "huber"},
            "objective": 52.5,
            "metrics": {"validation-rmse": 52.5},
        },
    }
    patch_status(kubectl, "done", namespace, status)
    row = printed_row(kubectl("get", "tj", "done", "-n", namespace).stdout)
    assert row == {
        "NAME": "done",
        "STATUS": "Complete",
        "SUCCEEDED": "23",
        "TOTAL": "24",
        "BEST": "52.5",
        "FRONT": "",
        "AGE": row["AGE"],
    }
    stored = json.loads(kubectl("get", "tj", "done", "-n", namespace, "-o", "json").stdout)
    assert stored["status"] == status


def test_printer_columns_of_a_multi_objective_tuningjob(kubectl: Kubectl, namespace: str) -> None:
    document = quickstart("front")
    spec = document["spec"]
    metric = spec.pop("objective")["metric"]
    spec["objectives"] = [
        {"metric": metric, "direction": "minimize"},
        {"metric": "latency-ms", "direction": "minimize"},
    ]
    spec.pop("earlyStopping", None)
    kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document))
    status = {
        "trials": {"active": 1, "succeeded": 5, "failed": 0, "pruned": 0, "total": 6},
        "paretoFront": [
            {
                "name": "front-2",
                "number": 2,
                "objectives": {metric: 50.0, "latency-ms": 9.5},
                "parameters": {"learning_rate": 0.05},
            }
        ],
        "paretoFrontSize": 1,
    }
    patch_status(kubectl, "front", namespace, status)
    row = printed_row(kubectl("get", "tj", "front", "-n", namespace).stdout)
    assert (row["SUCCEEDED"], row["TOTAL"], row["BEST"], row["FRONT"]) == ("5", "6", "", "1")


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ({"name": "lr", "type": "float", "min": 0, "max": 1, "scale": "log"},
         'spec.parameters[1].min: Invalid value: "object": must be > 0 for scale log'),
        ({"name": "lr", "type": "float", "min": 1, "max": 1},
         'spec.parameters[1].max: Invalid value: "object": must be greater than min'),
        ({"name": "lr", "type": "float", "min": 0.5, "max": 1.0, "scale": "reverseLog"},
         'spec.parameters[1].max: Invalid value: "object": reverseLog needs 0 <= min < max < 1'),
        ({"name": "lr", "type": "categorical", "values": ["a"], "step": 1},
         'spec.parameters[1].step: Invalid value: "object": not allowed for type categorical'),
        ({"name": "learning_rate", "type": "int", "min": 1, "max": 3},
         'spec.parameters[1]: Duplicate value: map[string]interface {}{"name":"learning_rate"}'),
    ],
)  # fmt: skip
def test_cross_field_mistakes_are_refused_at_apply_with_the_field_path(
    kubectl: Kubectl, namespace: str, parameter: dict[str, Any], expected: str
) -> None:
    document = quickstart("cross-field")
    document["spec"]["parameters"] = [document["spec"]["parameters"][0], parameter]
    result = kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_grid_over_a_continuous_range_is_refused_at_apply(kubectl: Kubectl, namespace: str) -> None:
    document = quickstart("grid")
    document["spec"]["strategy"] = {"algorithm": "grid"}
    document["spec"]["parameters"] = [{"name": "lr", "type": "float", "min": 0.1, "max": 1}]
    result = kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    assert "spec.parameters: Invalid value" in result.stderr
    assert "grid search needs a finite space: float parameter lr needs a step" in result.stderr


def test_an_edit_of_the_parameters_is_refused(kubectl: Kubectl, namespace: str) -> None:
    document = quickstart("fixed-space")
    kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document))
    document["spec"]["parameters"][1]["max"] += 1  # max_depth: whole numbers
    document["spec"]["limits"]["parallelTrials"] = 1
    result = kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    assert result.returncode != 0
    assert "spec.parameters: Forbidden: cannot be changed once the TuningJob exists" in (
        result.stderr
    )
    assert "clone the TuningJob instead" in result.stderr
    document["spec"]["parameters"][1]["max"] -= 1  # the same edit without the parameters passes
    kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document))
