"""Hostile manifests end as a SpecError naming the problem: never a traceback or a long stall."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubetune.api import SpecError, load_documents, parse_tuningjob
from kubetune.api.bounds import MAX_NESTING_DEPTH, MAX_YAML_NODES
from kubetune.cli.main import cli

from tests.unit.manifests import manifest, tweak

ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
)


def deep_mapping(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


def deep_yaml(depth: int) -> str:
    # Flow style: block style would need 2*depth columns of indentation.
    return "spec: " + "{x: " * depth + "1" + "}" * depth + "\n"


def test_a_900_deep_mapping_in_a_decoded_manifest_is_a_field_error() -> None:
    body = manifest()
    body["spec"]["trialTemplate"]["metadata"] = {"annotations": deep_mapping(900)}
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(body)
    [error] = caught.value.errors
    assert error.path.startswith("spec.trialTemplate.metadata.annotations.x.x")
    assert f"nested more than {MAX_NESTING_DEPTH} levels deep" in error.message


def test_ordinary_nesting_is_accepted() -> None:
    body = manifest()
    body["spec"]["trialTemplate"]["spec"]["template"]["metadata"] = {
        "annotations": {"a": "b"},
        "labels": {"c": "d"},
    }
    assert parse_tuningjob(body).name


def test_a_900_deep_yaml_document_is_refused_before_it_is_composed() -> None:
    with pytest.raises(SpecError, match="nested more than 64 levels deep"):
        load_documents(deep_yaml(900), "deep.yaml")


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    began = time.perf_counter()
    with pytest.raises(SpecError, match="once YAML aliases are expanded"):
        load_documents(ALIAS_BOMB, "bomb.yaml")
    assert time.perf_counter() - began < 1.0


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError, match="refers to a node that contains it"):
        load_documents("a: &a [1, *a]\n", "loop.yaml")


def test_shared_aliases_within_the_limit_are_kept() -> None:
    text = "base: &b {cpu: 1}\nx: *b\ny: *b\n"
    assert load_documents(text) == [{"base": {"cpu": 1}, "x": {"cpu": 1}, "y": {"cpu": 1}}]
    assert MAX_YAML_NODES > 50 * 1000  # 50 parameters of 1,000 values each still load


@pytest.mark.parametrize(
    ("text", "message"),
    [(deep_yaml(900), "nested more than 64"), (ALIAS_BOMB, "aliases are expanded")],
)
def test_kubetune_validate_reports_without_a_traceback(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1" * 400 + "s", "at most 32 characters"),
        ("9" * 30 + "h", "must be at most 8784h"),
        ("9000h", "must be at most 8784h"),
    ],
)
@pytest.mark.parametrize("field", ["trialTimeout", "maxRuntime", "pendingTimeout"])
def test_durations_are_finite_and_bounded(field: str, value: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(tweak(manifest(), f"spec.limits.{field}", value))
    assert [e.path for e in caught.value.errors] == [f"spec.limits.{field}"]
    assert message in caught.value.errors[0].message


def test_a_long_but_bounded_duration_renders() -> None:
    job = parse_tuningjob(tweak(manifest(), "spec.limits.trialTimeout", "8784h"))
    assert job.spec.limits.trial_timeout_seconds == 8784 * 3600


@pytest.mark.parametrize(("pattern", "reason"), [(r"(a)\1", "escape"), (r"(?=x)(\d)", "perl")])
def test_a_regex_re2_cannot_run_is_invalid_spec(pattern: str, reason: str) -> None:
    body = tweak(
        manifest(),
        "spec.metrics",
        {"format": "regex", "definitions": [{"name": "loss", "regex": pattern}]},
    )
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(body)
    [error] = [e for e in caught.value.errors if e.path.endswith(".regex")]
    assert error.path == "spec.metrics.definitions[0].regex"
    assert reason in error.message
    assert "RE2 syntax" in error.message
