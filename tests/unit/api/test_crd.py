"""The TuningJob CRD: committed file == generated, structurally valid, and in step with the model.

Three layers decide whether a TuningJob is acceptable:

* the CRD's openAPIV3Schema, enforced by the API server on ``kubectl apply``;
* the model's structural layer, ``TuningJob.model_validate`` (types, enums, bounds, patterns);
* the model's semantic layer, ``semantic_errors`` (rules across fields: ``min < max``, ``min > 0``
  for a log scale, a finite grid, valid regular expressions, ...). These are NOT in the CRD: the
  operator reports them in an ``InvalidSpec`` condition.

The parity tests check that the first two accept and reject the same manifests. The API server
is emulated with ``jsonschema`` (Draft 4, as OpenAPI v3.0 is): it prunes unknown fields and
non-nullable nulls, applies defaults, then validates. Where the layers necessarily differ, a test
below says so explicitly (section "known differences").
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubetune.api import SpecError, TuningJob, TuningJobSpec, parse_tuningjob
from kubetune.api.crd import (
    CRD_FILENAME,
    NO_SERVER_DEFAULT,
    build_crd,
    build_schema,
    render_crd,
)
from kubetune.api.validation import semantic_errors
from pydantic import ValidationError

from dev.crds import main
from tests.unit.manifests import REMOVE, api_example, container, manifest, tweak

REPO_ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = REPO_ROOT / "crds" / CRD_FILENAME
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.yaml"))

Schema = dict[str, Any]


# --- the committed file ---------------------------------------------------------------------


def test_committed_crd_is_generated_from_the_models() -> None:
    assert CRD_FILE.read_text(encoding="utf-8") == render_crd(), (
        f"{CRD_FILE} is out of date: run python -m dev.crds"
    )
    assert yaml.safe_load(CRD_FILE.read_text(encoding="utf-8")) == build_crd()


def test_check_mode_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / CRD_FILENAME
    assert main([str(target)]) == 0
    assert main(["--check", str(target)]) == 0
    target.write_text(render_crd().replace("minimum: 1", "minimum: 2", 1), encoding="utf-8")
    assert main(["--check", str(target)]) == 1
    assert "out of date" in capsys.readouterr().out


def test_build_crd_returns_a_fresh_dict() -> None:
    crd = build_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].clear()
    assert build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]


def test_names_and_columns() -> None:
    crd = build_crd()
    assert crd["metadata"] == {
        "name": "tuningjobs.kubetune.io",
        "labels": {"app.kubernetes.io/name": "kubetune", "app.kubernetes.io/part-of": "kubetune"},
    }
    spec = crd["spec"]
    assert spec["group"] == "kubetune.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "TuningJob",
        "listKind": "TuningJobList",
        "plural": "tuningjobs",
        "singular": "tuningjob",
        "shortNames": ["tj"],
        "categories": ["all", "kubetune"],
    }
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: (c["type"], c["jsonPath"]) for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Status": ("string", '.status.conditions[?(@.status=="True")].type'),
        "Succeeded": ("integer", ".status.trials.succeeded"),
        "Total": ("integer", ".status.trials.total"),
        "Best": ("number", ".status.bestTrial.objective"),
        "Front": ("integer", ".status.paretoFrontSize"),
        "Age": ("date", ".metadata.creationTimestamp"),
    }


def test_descriptions_come_from_the_model() -> None:
    limits = build_schema()["properties"]["spec"]["properties"]["limits"]
    assert limits["properties"]["maxTrials"]["description"] == (
        "How many trials to run in total (failed and stopped trials count). Required unless "
        "strategy.algorithm is grid, where it defaults to the grid size. 1 to 100,000."
    )
    assert limits["description"] == TuningJobSpec.model_fields["limits"].description


# --- structural schema rules ----------------------------------------------------------------


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its path (``.name`` for properties, ``[]`` items, ``{}`` values)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


SCHEMA = build_schema()
NODES = list(walk(SCHEMA))
FORBIDDEN_KEYWORDS = {
    "$ref",
    "$defs",
    "definitions",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "const",
    "uniqueItems",
    "title",
    "patternProperties",
    "dependencies",
    "additionalItems",
}
SCALAR_TYPES = {"string", "integer", "number", "boolean"}


def test_crd_object_matches_the_official_crd_schema() -> None:
    kubernetes_validate.validate(build_crd(), kubernetes_validate.latest_version(), strict=True)


def test_official_crd_schema_check_is_not_vacuous() -> None:
    broken = build_crd()
    broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize(("path", "node"), NODES, ids=[p or "<root>" for p, _ in NODES])
def test_every_node_is_structural(path: str, node: Schema) -> None:
    assert not FORBIDDEN_KEYWORDS & set(node), f"{path}: {FORBIDDEN_KEYWORDS & set(node)}"
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    assert "type" in node or preserve or node.get("x-kubernetes-int-or-string") is True
    kind = node.get("type")
    assert kind is None or kind in {*SCALAR_TYPES, "object", "array"}
    # Structural schemas cannot forbid unknown fields; the API server prunes them instead.
    assert node.get("additionalProperties") is not False
    assert not ("properties" in node and "additionalProperties" in node)
    if "properties" in node or "additionalProperties" in node or "required" in node:
        assert kind == "object"
    assert set(node.get("required", [])) <= set(node.get("properties", {}))
    if kind == "array":
        assert isinstance(node["items"], dict), "arrays need a single items schema"
    else:
        assert "items" not in node
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        if bound in node:  # OpenAPI v3.0: a boolean next to minimum / maximum
            assert node[bound] is True
            assert bound.removeprefix("exclusive").lower() in node
    if "x-kubernetes-list-type" in node:
        assert kind == "array"
        items = node["items"]
        if node["x-kubernetes-list-type"] == "map":
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in items.get("required", []) or "default" in items["properties"][key]
                assert items["properties"][key]["type"] in SCALAR_TYPES
        else:
            assert items["type"] in SCALAR_TYPES
    if "default" in node:
        validator(node).validate(node["default"])
    # kubectl explain shows these; list items and map values are described by their field.
    assert path.endswith(("[]", "{}")) or node.get("description"), f"{path}: no description"


def test_root_follows_the_crd_rules() -> None:
    assert SCHEMA["type"] == "object"
    assert "nullable" not in SCHEMA
    # No metadata: the API server validates ObjectMeta itself (see crd_errors below).
    assert set(SCHEMA["properties"]) == {"apiVersion", "kind", "spec", "status"}
    assert SCHEMA["required"] == ["spec"]


def test_opaque_parts_are_preserved_not_typed() -> None:
    spec = SCHEMA["properties"]["spec"]["properties"]
    settings = spec["strategy"]["properties"]["settings"]
    assert settings["type"] == "object"
    assert settings["x-kubernetes-preserve-unknown-fields"] is True
    values = spec["parameters"]["items"]["properties"]["values"]["items"]
    assert values["x-kubernetes-preserve-unknown-fields"] is True
    job = spec["trialTemplate"]["properties"]["spec"]
    pod = job["properties"]["template"]["properties"]["spec"]
    assert job["x-kubernetes-preserve-unknown-fields"] is True
    assert pod["x-kubernetes-preserve-unknown-fields"] is True
    assert pod["properties"]["containers"]["items"]["x-kubernetes-preserve-unknown-fields"]


def test_status_is_explicit() -> None:
    status = SCHEMA["properties"]["status"]
    assert "x-kubernetes-preserve-unknown-fields" not in status
    assert set(status["properties"]) == {
        "conditions",
        "observedGeneration",
        "trials",
        "bestTrial",
        "paretoFront",
        "paretoFrontSize",
        "warmStartTrials",
        "diagnosis",
        "startTime",
        "completionTime",
    }
    diagnosis = status["properties"]["diagnosis"]
    assert set(diagnosis["properties"]) == {"verdict", "message", "trial"}
    assert diagnosis["properties"]["verdict"]["enum"] == [
        "ok",
        "highBias",
        "highVariance",
        "both",
        "trainTestMismatch",
        "unknown",
    ]
    assert set(status["properties"]["trials"]["properties"]) == {
        "active",
        "queued",
        "retried",
        "succeeded",
        "infeasible",
        "failed",
        "pruned",
        "total",
    }
    conditions = status["properties"]["conditions"]["items"]["properties"]
    assert set(conditions) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }


def test_status_descriptions_name_every_condition_and_reason() -> None:
    from kubetune.api.status import (
        AuxiliaryConditionType,
        AuxiliaryReason,
        ConditionType,
        Reason,
        SummaryConditionType,
    )

    status = SCHEMA["properties"]["status"]["properties"]
    conditions = status["conditions"]["description"]
    assert "Exactly one of Running, Complete or Failed is True, whatever else is reported." in (
        conditions
    )
    assert "SpecAccepted is False, with reason InvalidSpec or SearchSpaceChanged" in conditions
    assert "its study goes on with the spec accepted before (trials are still recorded)" in (
        conditions
    )
    assert "Running/Complete/Failed keep reflecting the study" in conditions
    assert "A spec never accepted is Failed (InvalidSpec) instead." in conditions
    assert "MetricsSourceAvailable (spec.metrics.source prometheus only)" in conditions
    assert "Ready and Stalled summarise it" in conditions

    item = status["conditions"]["items"]["properties"]
    types = item["type"]["description"]
    assert "The state of the study: Running, Complete or Failed; exactly one of them is True." in (
        types
    )
    assert "Stalled (present, True, only when Failed)" in types
    assert "SpecAccepted (False while the latest edit of the spec is refused" in types
    assert "MetricsSourceAvailable (with spec.metrics.source prometheus" in types
    for type_ in (*ConditionType, *SummaryConditionType, *AuxiliaryConditionType):
        assert type_.value in types
    reasons = item["reason"]["description"]
    for reason in (*Reason, *AuxiliaryReason):
        assert reason.value in reasons
    assert "SpecAccepted: Accepted, or InvalidSpec or SearchSpaceChanged naming" in reasons
    assert "MetricsSourceAvailable: PrometheusAvailable or PrometheusUnavailable." in reasons

    pruned = status["trials"]["properties"]["pruned"]["description"]
    assert pruned.startswith("Trials cut short without failing: stopped early by ")
    assert "spec.earlyStopping (reason Pruned)" in pruned
    assert "stopped because the TuningJob finished while they ran" in pruned
    assert "maxFailedTrials; reason Stopped)" in pruned
    assert "parameters were never fully stored (reason Stopped)" in pruned


# --- an emulated API server: prune, default, validate -------------------------------------


def _to_draft4(node: Schema) -> Schema:
    """OpenAPI v3.0 with Kubernetes extensions -> JSON Schema Draft 4."""
    result: Schema = {}
    for key, value in node.items():
        if key == "properties":
            result[key] = {name: _to_draft4(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = _to_draft4(value)
        elif key in ("description", "default", "format", "nullable") or (
            key.startswith("x-kubernetes-") and key not in _LIST_KEYWORDS
        ):
            continue
        else:
            result[key] = value
    if node.get("nullable"):
        result["type"] = [node["type"], "null"]
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
    if node.get("x-kubernetes-int-or-string"):
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return result


def _list_type(
    validator: Any, value: Any, instance: Any, schema: Schema
) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, list):
        return
    if value == "set":
        keys = [repr(item) for item in instance]
    elif value == "map":
        names = schema["x-kubernetes-list-map-keys"]
        keys = [repr([item.get(n) for n in names]) for item in instance if isinstance(item, dict)]
    else:
        return
    if len(keys) != len(set(keys)):
        yield jsonschema.ValidationError(f"duplicate entries in a list of type {value}")


_LIST_KEYWORDS = {"x-kubernetes-list-type", "x-kubernetes-list-map-keys"}
# Like go-openapi, count 3.0 as an integer; bool is never a number.
_TYPES = jsonschema.Draft4Validator.TYPE_CHECKER.redefine(
    "integer",
    lambda _, x: (
        (isinstance(x, int) and not isinstance(x, bool))
        or (isinstance(x, float) and x.is_integer())
    ),
)
K8sValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    validators={"x-kubernetes-list-type": _list_type},
    type_checker=_TYPES,
)


def validator(node: Schema) -> Any:
    return K8sValidator(_to_draft4(node))


API_SERVER = validator(SCHEMA)
# The API server handles metadata itself (ObjectMeta): the schema only restricts the name, and
# pruning never touches the other metadata fields.
STORED_SCHEMA = copy.deepcopy(SCHEMA)
STORED_SCHEMA["properties"]["metadata"] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
}


def prune_and_default(instance: Any, node: Schema) -> Any:
    """What the API server stores: unknown fields and non-nullable nulls dropped, defaults set."""
    if isinstance(instance, dict) and node.get("type") == "object":
        properties = node.get("properties", {})
        values = node.get("additionalProperties")
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        result: dict[str, Any] = {}
        for key, value in instance.items():
            child = properties.get(key) or (values if isinstance(values, dict) else None)
            if child is None:
                if preserve:
                    result[key] = value
                continue
            if value is None and not child.get("nullable"):
                continue  # pruned, then defaulted below if the field has a default
            result[key] = prune_and_default(value, child)
        for key, child in properties.items():
            if key not in result and "default" in child:
                result[key] = copy.deepcopy(child["default"])
        return result
    if isinstance(instance, list) and isinstance(node.get("items"), dict):
        return [prune_and_default(item, node["items"]) for item in instance]
    return instance


# What the API server requires of every object's name (ObjectMeta), whatever the schema says.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def crd_errors(document: Any) -> list[str]:
    """Why the (emulated) API server rejects ``document``; empty when it accepts it."""
    stored = prune_and_default(document, STORED_SCHEMA)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in API_SERVER.iter_errors(stored)
    ]
    name = (document.get("metadata") or {}).get("name") if isinstance(document, dict) else None
    if not (isinstance(name, str) and len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name)):
        errors.append(f"metadata.name: {name!r} is not a DNS subdomain")
    return errors


def model_errors(document: Any) -> list[str]:
    """Why the model's structural layer rejects ``document`` (no semantic_errors)."""
    try:
        TuningJob.model_validate(document)
    except ValidationError as error:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return []


def test_emulated_api_server_translation_is_valid_draft4() -> None:
    jsonschema.Draft4Validator.check_schema(_to_draft4(SCHEMA))


# --- parity: accepted by both ---------------------------------------------------------------


def _example_documents() -> list[Any]:
    documents = []
    for path in EXAMPLES:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "TuningJob":
                documents.append(pytest.param(document, id=f"examples/{path.name}"))
    return documents


EXAMPLE_DOCUMENTS = _example_documents()


def test_there_are_examples() -> None:
    assert EXAMPLE_DOCUMENTS


FULL = tweak(
    tweak(
        tweak(
            api_example(),
            "spec.metrics.prometheus",
            {
                "url": "https://prometheus.monitoring:9090",
                "queries": [{"metric": "validation-rmse", "query": "rmse{pod='${trial.pod}'}"}],
                "interval": "30s",
                "bearerTokenSecret": {"name": "prom", "key": "token"},
                "caSecret": {"name": "prom", "key": "ca.crt"},
                "insecureSkipVerify": False,
            },
        ),
        "spec.earlyStopping",
        {
            "algorithm": "hyperband",
            "startStep": 1,
            "minTrials": 2,
            "percentile": 25.0,
            "minResource": 1,
            "maxResource": 81,
            "reductionFactor": 3,
        },
    ),
    "spec.trialTemplate.metadata",
    {"labels": {"team": "ml"}, "annotations": {"note": "x"}},
)

VALID: list[Any] = [
    *EXAMPLE_DOCUMENTS,
    pytest.param(api_example(), id="API.md example, with status"),
    pytest.param(FULL, id="every field"),
    pytest.param(manifest(), id="small"),
    pytest.param(
        manifest(
            algorithm="grid",
            limits={"maxTrials": REMOVE},
            parameters=[{"name": "c", "type": "categorical", "values": ["a", 3, 2.5, True]}],
        ),
        id="grid without maxTrials, mixed categorical values",
    ),
    pytest.param(
        manifest(settings={"nStartupTrials": 5}, algorithm="bayesian", seed=2**32 - 1),
        id="settings and the largest seed",
    ),
    pytest.param(
        tweak(tweak(manifest(), "spec.objective.target", None), "spec.limits.maxRuntime", None),
        id="explicit nulls on optional fields",
    ),
    pytest.param(
        tweak(manifest(), "spec.limits", {"maxTrials": 3, "maxRuntime": "1h30m"}),
        id="compound duration",
    ),
]


@pytest.mark.parametrize("document", VALID)
def test_valid_manifests_are_accepted_by_both(document: Any) -> None:
    assert crd_errors(document) == []
    assert model_errors(document) == []
    assert semantic_errors(TuningJob.model_validate(document)) == []


@pytest.mark.parametrize("document", VALID)
def test_server_side_defaults_do_not_change_the_tuningjob(document: Any) -> None:
    """The operator reads objects the API server defaulted; they must mean the same thing."""
    original = parse_tuningjob(document)
    stored = prune_and_default(copy.deepcopy(document), STORED_SCHEMA)
    assert parse_tuningjob(stored).model_dump() == original.model_dump()


def test_scale_has_no_server_side_default() -> None:
    """``scale`` on a categorical parameter is an error, so the API server must not add it."""
    assert "spec.parameters[].scale" in NO_SERVER_DEFAULT
    scale = SCHEMA["properties"]["spec"]["properties"]["parameters"]["items"]["properties"]
    assert "default" not in scale["scale"]
    categorical = manifest(parameters=[{"name": "c", "type": "categorical", "values": ["a"]}])
    with pytest.raises(SpecError, match="scale: not allowed for type categorical"):
        parse_tuningjob(tweak(categorical, "spec.parameters[0].scale", "linear"))


def test_every_crd_default_equals_the_model_default() -> None:
    document = manifest()
    for part in ("strategy", "earlyStopping"):
        document["spec"][part] = {}
    document["spec"]["metrics"] = {"prometheus": {}}
    document["spec"]["parameters"] = [{"name": "x", "type": "float", "min": 0, "max": 1}]
    document["spec"]["objective"]["additionalMetrics"] = ["train-loss"]
    document["spec"]["diagnosis"] = {"trainMetric": "train-loss"}
    model = TuningJob.model_validate(document).model_dump(mode="json", by_alias=True)
    defaults = [(p, n["default"]) for p, n in NODES if "default" in n]
    assert len(defaults) >= 10
    for path, default in defaults:
        value: Any = model
        for step in path.strip(".").split("."):
            value = value[0] if step.endswith("[]") else value
            value = value[step.removesuffix("[]")]
        assert value == default, path


# --- parity: rejected by both ---------------------------------------------------------------

BASE = manifest()


def _params(count: int) -> list[dict[str, Any]]:
    return [{"name": f"p{i}", "type": "float", "min": 0, "max": 1} for i in range(count)]


INVALID: dict[str, Any] = {
    "no spec": tweak(BASE, "spec", REMOVE),
    "spec not an object": tweak(BASE, "spec", "tune it"),
    "objective without metric": tweak(BASE, "spec.objective.metric", REMOVE),
    "metric name with a space": tweak(BASE, "spec.objective.metric", "val loss"),
    "metric name of 129 characters": tweak(BASE, "spec.objective.metric", "m" * 129),
    "direction up": tweak(BASE, "spec.objective.direction", "up"),
    "direction missing": tweak(BASE, "spec.objective.direction", REMOVE),
    "target not a number": tweak(BASE, "spec.objective.target", "low"),
    "additionalMetrics not a list": tweak(BASE, "spec.objective.additionalMetrics", "loss"),
    "no parameters": tweak(BASE, "spec.parameters", REMOVE),
    "zero parameters": tweak(BASE, "spec.parameters", []),
    "51 parameters": manifest(parameters=_params(51)),
    "parameters as a mapping": tweak(BASE, "spec.parameters", {"x": {"type": "float"}}),
    "parameter name with a dash": tweak(BASE, "spec.parameters[0].name", "learning-rate"),
    "parameter name starting with a digit": tweak(BASE, "spec.parameters[0].name", "1x"),
    "parameter name of 65 characters": tweak(BASE, "spec.parameters[0].name", "p" * 65),
    "parameter without name": tweak(BASE, "spec.parameters[0].name", REMOVE),
    "parameter type double": tweak(BASE, "spec.parameters[0].type", "double"),
    "parameter without type": tweak(BASE, "spec.parameters[0].type", REMOVE),
    "min not a number": tweak(BASE, "spec.parameters[0].min", "low"),
    "step zero": tweak(BASE, "spec.parameters[0].step", 0),
    "step negative": tweak(BASE, "spec.parameters[0].step", -0.1),
    "scale exp": tweak(BASE, "spec.parameters[0].scale", "exp"),
    "values not a list": tweak(BASE, "spec.parameters[2].values", "a,b"),
    "algorithm sobol": tweak(BASE, "spec.strategy.algorithm", "sobol"),
    "seed negative": tweak(BASE, "spec.strategy.seed", -1),
    "seed 2**32": tweak(BASE, "spec.strategy.seed", 2**32),
    "seed a fraction": tweak(BASE, "spec.strategy.seed", 1.5),
    "settings not an object": tweak(BASE, "spec.strategy.settings", "fast"),
    "early stopping asha": tweak(BASE, "spec.earlyStopping.algorithm", "asha"),
    "percentile 100": tweak(BASE, "spec.earlyStopping.percentile", 100),
    "percentile 0": tweak(BASE, "spec.earlyStopping.percentile", 0),
    "reductionFactor 1": tweak(BASE, "spec.earlyStopping.reductionFactor", 1),
    "startStep negative": tweak(BASE, "spec.earlyStopping.startStep", -1),
    "minResource 0": tweak(BASE, "spec.earlyStopping.minResource", 0),
    "maxTrials 0": tweak(BASE, "spec.limits.maxTrials", 0),
    "maxTrials negative": tweak(BASE, "spec.limits.maxTrials", -5),
    "maxTrials a fraction": tweak(BASE, "spec.limits.maxTrials", 2.5),
    "maxTrials a word": tweak(BASE, "spec.limits.maxTrials", "many"),
    "maxTrials a list": tweak(BASE, "spec.limits.maxTrials", [10]),
    "parallelTrials 0": tweak(BASE, "spec.limits.parallelTrials", 0),
    "maxFailedTrials negative": tweak(BASE, "spec.limits.maxFailedTrials", -1),
    "stopAfterTrialsWithoutImprovement 0": tweak(
        BASE, "spec.limits.stopAfterTrialsWithoutImprovement", 0
    ),
    "maxRuntime in words": tweak(BASE, "spec.limits.maxRuntime", "2 hours"),
    "maxRuntime a number": tweak(BASE, "spec.limits.maxRuntime", 7200),
    "trialTimeout without unit": tweak(BASE, "spec.limits.trialTimeout", "30"),
    "pendingTimeout in days": tweak(BASE, "spec.limits.pendingTimeout", "1d"),
    "trialTimeout negative": tweak(BASE, "spec.limits.trialTimeout", "-5m"),
    "limits not an object": tweak(BASE, "spec.limits", 10),
    "metrics source stdout": tweak(BASE, "spec.metrics.source", "stdout"),
    "metrics format csv": tweak(BASE, "spec.metrics.format", "csv"),
    "objectiveValue mean": tweak(BASE, "spec.metrics.objectiveValue", "mean"),
    "definition without regex": tweak(BASE, "spec.metrics.definitions", [{"name": "loss"}]),
    "definition with empty regex": tweak(
        BASE, "spec.metrics.definitions", [{"name": "loss", "regex": ""}]
    ),
    "definition regex of 1025 characters": tweak(
        BASE, "spec.metrics.definitions", [{"name": "loss", "regex": "(x)" + "y" * 1022}]
    ),
    "prometheus url without scheme": tweak(BASE, "spec.metrics.prometheus.url", "prom:9090"),
    "prometheus query without metric": tweak(
        BASE, "spec.metrics.prometheus.queries", [{"query": "up"}]
    ),
    "prometheus interval 15": tweak(BASE, "spec.metrics.prometheus.interval", "15"),
    "secret without key": tweak(BASE, "spec.metrics.prometheus.caSecret", {"name": "ca"}),
    "secret with empty name": tweak(
        BASE, "spec.metrics.prometheus.bearerTokenSecret", {"name": "", "key": "t"}
    ),
    "insecureSkipVerify maybe": tweak(BASE, "spec.metrics.prometheus.insecureSkipVerify", "maybe"),
    "no trialTemplate": tweak(BASE, "spec.trialTemplate", REMOVE),
    "no trialTemplate.spec": tweak(BASE, "spec.trialTemplate.spec", REMOVE),
    "trialTemplate.spec a string": tweak(BASE, "spec.trialTemplate.spec", "job.yaml"),
    "trialTemplate label value a number": tweak(
        BASE, "spec.trialTemplate.metadata.labels", {"team": 7}
    ),
    "primaryContainer a list": tweak(BASE, "spec.trialTemplate.primaryContainer", ["train"]),
    "metadata.name with capitals": tweak(BASE, "metadata.name", "My_Tune"),
}


def test_enough_invalid_manifests() -> None:
    assert len(INVALID) >= 15


@pytest.mark.parametrize("document", list(INVALID.values()), ids=list(INVALID))
def test_invalid_manifests_are_rejected_by_both(document: Any) -> None:
    crd, model = crd_errors(document), model_errors(document)
    assert crd, "the CRD accepts it"
    assert model, "the model accepts it"
    # ... and for the same field (a missing field is reported at its parent by the CRD).
    crd_paths = {error.partition(": ")[0] for error in crd}
    model_paths = {error.partition(": ")[0] for error in model}
    assert any(m == c or m.startswith(f"{c}.") or not c for c in crd_paths for m in model_paths)


# --- known differences ----------------------------------------------------------------------
#
# 1. Unknown fields: the model rejects them (extra="forbid"); a structural schema cannot, so the
#    API server prunes them and stores the rest (kubectl apply --validate=strict warns first).
#    What the operator then reads is accepted by the model.

UNKNOWN_FIELDS = {
    "typo in limits": tweak(BASE, "spec.limits.maxTrial", 5),
    "unknown spec field": tweak(BASE, "spec.schedule", "nightly"),
    "unknown parameter field": tweak(BASE, "spec.parameters[0].default", 0.5),
    "unknown prometheus field": tweak(BASE, "spec.metrics.prometheus.token", "secret"),
}


@pytest.mark.parametrize("document", list(UNKNOWN_FIELDS.values()), ids=list(UNKNOWN_FIELDS))
def test_unknown_fields_are_pruned_by_the_api_server(document: Any) -> None:
    assert any("Extra inputs are not permitted" in e for e in model_errors(document))
    assert crd_errors(document) == []
    stored = prune_and_default(document, STORED_SCHEMA)
    assert model_errors(stored) == []


def test_unknown_fields_survive_where_the_schema_preserves_them() -> None:
    document = tweak(BASE, "spec.trialTemplate.spec.template.spec.nodeSelector", {"gpu": "a100"})
    stored = prune_and_default(document, STORED_SCHEMA)
    assert stored["spec"]["trialTemplate"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "gpu": "a100"
    }


def test_names_are_checked_by_the_api_server_and_the_model() -> None:
    """The API server wants a DNS subdomain; the model a DNS label (it names Jobs and labels).

    A name with a dot therefore gets past the API server and the operator reports it in an
    InvalidSpec condition. Kubernetes would allow a pattern on metadata.name in the schema; the
    CRD leaves metadata out (the simplest valid form; kubesim, our tests' API server, prunes
    the other metadata fields when a schema declares metadata).
    """
    dotted = tweak(BASE, "metadata.name", "tune.v2")
    assert crd_errors(dotted) == []
    assert model_errors(dotted)
    assert crd_errors(tweak(BASE, "metadata.name", "Tune_2"))


# 2. Nulls: a null in a non-nullable field is pruned by the API server (and replaced by the
#    default when there is one); the model rejects it. Again the stored object is accepted.

NULLS = {
    "parallelTrials null": tweak(BASE, "spec.limits.parallelTrials", None),
    "strategy null": tweak(BASE, "spec.strategy", None),
    "scale null": tweak(BASE, "spec.parameters[0].scale", None),
}


@pytest.mark.parametrize("document", list(NULLS.values()), ids=list(NULLS))
def test_nulls_are_pruned_by_the_api_server(document: Any) -> None:
    assert model_errors(document)
    assert crd_errors(document) == []
    assert model_errors(prune_and_default(document, STORED_SCHEMA)) == []


# 3. No coercion: the API server wants JSON types, and so does the model (strict mode), so a
#    string where a number belongs fails on a laptop exactly as it would on the cluster.

COERCED = {
    "maxTrials as a string": tweak(BASE, "spec.limits.maxTrials", "5"),
    "maxTrials true": tweak(BASE, "spec.limits.maxTrials", True),
    "min as a string": tweak(BASE, "spec.parameters[0].min", "0.5"),
    "insecureSkipVerify as a string": tweak(
        BASE, "spec.metrics.prometheus.insecureSkipVerify", "true"
    ),
    "insecureSkipVerify 1": tweak(BASE, "spec.metrics.prometheus.insecureSkipVerify", 1),
}


@pytest.mark.parametrize("document", list(COERCED.values()), ids=list(COERCED))
def test_neither_coerces_types(document: Any) -> None:
    assert model_errors(document)
    assert crd_errors(document)


# 4. The CRD checks a little more than the model's structural layer: duplicate keys in lists
#    (list-type map/set) and the shape of the pod template that kubetune relies on. Those are
#    semantic errors in the model, so the full validation (parse_tuningjob) rejects them too.

POD = "spec.trialTemplate.spec.template.spec"
STRICTER = {
    "duplicate parameter names": manifest(
        parameters=[
            {"name": "x", "type": "float", "min": 0, "max": 1},
            {"name": "x", "type": "int", "min": 0, "max": 1},
        ]
    ),
    "duplicate metric definitions": tweak(
        BASE,
        "spec.metrics.definitions",
        [{"name": "loss", "regex": "loss=(.*)"}, {"name": "loss", "regex": "l=(.*)"}],
    ),
    "duplicate additional metrics": tweak(BASE, "spec.objective.additionalMetrics", ["a", "a"]),
    "template without spec": tweak(BASE, "spec.trialTemplate.spec.template.spec", REMOVE),
    "pod spec a string": tweak(BASE, POD, "pod.yaml"),
    "no containers": tweak(BASE, f"{POD}.containers", []),
    "containers missing": tweak(BASE, f"{POD}.containers", REMOVE),
    "container without name": manifest(containers=[{"image": "x", "command": ["true"]}]),
    "container with empty name": manifest(containers=[container(name="")]),
    "restartPolicy Always": tweak(BASE, f"{POD}.restartPolicy", "Always"),
}


@pytest.mark.parametrize("document", list(STRICTER.values()), ids=list(STRICTER))
def test_the_crd_rejects_early_what_validation_rejects(document: Any) -> None:
    assert crd_errors(document)
    assert model_errors(document) == []
    with pytest.raises(SpecError):
        parse_tuningjob(document)


# 5. The CRD is looser where a structural schema cannot say what the model says: categorical
#    values are "string | number | bool", which has no structural form, so any value is stored
#    and the operator reports the others in an InvalidSpec condition.

LOOSER = {
    "a mapping as a categorical value": tweak(BASE, "spec.parameters[2].values", [{"a": 1}]),
    "a list as a categorical value": tweak(BASE, "spec.parameters[2].values", [["a"]]),
    "null as a categorical value": tweak(BASE, "spec.parameters[2].values", [None]),
}


@pytest.mark.parametrize("document", list(LOOSER.values()), ids=list(LOOSER))
def test_categorical_values_are_checked_by_the_operator(document: Any) -> None:
    assert crd_errors(document) == []
    assert model_errors(document)


# 6. Rules across fields are in neither the CRD nor the structural layer: the operator checks
#    them (semantic_errors) and reports an InvalidSpec condition.

CROSS_FIELD = {
    "min above max": tweak(BASE, "spec.parameters[0].min", 2.0),
    "log scale from 0": tweak(BASE, "spec.parameters[0].scale", "log"),
    "grid over a continuous float": tweak(BASE, "spec.strategy.algorithm", "grid"),
    "maxTrials missing for random": tweak(BASE, "spec.limits.maxTrials", REMOVE),
    "regex that does not compile": tweak(
        BASE, "spec.metrics.definitions", [{"name": "loss", "regex": "loss=(["}]
    ),
    "values on a float": tweak(BASE, "spec.parameters[0].values", [1, 2]),
    "unknown strategy setting": tweak(BASE, "spec.strategy.settings", {"warp": 9}),
    "placeholder of no parameter": manifest(containers=[container(command=["${params.nope}"])]),
}


@pytest.mark.parametrize("document", list(CROSS_FIELD.values()), ids=list(CROSS_FIELD))
def test_cross_field_rules_are_left_to_the_operator(document: Any) -> None:
    assert crd_errors(document) == []
    assert model_errors(document) == []
    assert semantic_errors(TuningJob.model_validate(document))


# --- the status schema fits what the operator writes -----------------------------------------


def test_status_of_the_api_example_is_valid() -> None:
    status_schema = SCHEMA["properties"]["status"]
    status = api_example()["status"]
    assert list(validator(status_schema).iter_errors(status)) == []
    assert prune_and_default(status, status_schema) == status


def test_status_written_by_the_controller_is_valid() -> None:
    from kubetune.api.status import (
        AuxiliaryConditionType,
        AuxiliaryReason,
        BestTrial,
        ConditionType,
        Reason,
        TrialCounts,
    )
    from kubetune.controller.status import condition, merge_conditions, spec_refused

    status = {
        "conditions": merge_conditions(
            [],
            [
                condition(ConditionType.COMPLETE, True, Reason.TARGET_REACHED, "done", 0.0, 3),
                spec_refused(Reason.SEARCH_SPACE_CHANGED, "spec.parameters: no", 0.0, 3),
                condition(
                    AuxiliaryConditionType.METRICS_SOURCE_AVAILABLE,
                    False,
                    AuxiliaryReason.PROMETHEUS_UNAVAILABLE,
                    "connection refused",
                    0.0,
                    3,
                ),
            ],
        ),
        "observedGeneration": 3,
        "trials": TrialCounts(succeeded=2, total=2).to_dict(),
        "bestTrial": BestTrial(
            name="t-1", number=1, parameters={"x": 0.5, "k": "a"}, objective=0.1
        ).to_dict(),
    }
    status_schema = SCHEMA["properties"]["status"]
    assert list(validator(status_schema).iter_errors(status)) == []
    assert prune_and_default(status, status_schema) == status


def _nodes_with(predicate: Callable[[Schema], bool]) -> list[str]:
    return [path for path, node in NODES if predicate(node)]


def test_every_optional_model_field_is_nullable() -> None:
    nullable = _nodes_with(lambda node: node.get("nullable") is True)
    assert ".spec.objective.target" in nullable
    assert ".spec.limits.maxTrials" in nullable
    assert ".spec.limits.parallelTrials" not in nullable


def test_cli_prints_the_crd() -> None:
    from click.testing import CliRunner
    from kubetune.cli.main import cli

    printed = CliRunner().invoke(cli, ["crd"])
    assert printed.exit_code == 0
    assert printed.output == render_crd()
    as_json = CliRunner().invoke(cli, ["crd", "-o", "json"])
    assert json.loads(as_json.output) == build_crd()


def test_a_job_spec_without_template_passes_the_crd_and_fails_validation() -> None:
    """Trials of other kinds have no Job template, so the CRD cannot require one; the
    operator's validation does, naming the field."""
    document = tweak(BASE, "spec.trialTemplate.spec", {"backoffLimit": 0})
    assert not crd_errors(document)
    with pytest.raises(SpecError) as error:
        parse_tuningjob(document)
    assert "spec.trialTemplate.spec.template.spec" in str(error.value.errors)
