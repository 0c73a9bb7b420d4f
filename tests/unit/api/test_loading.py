"""Manifests from files: multi-document YAML, broken input, and the ``kubetune validate`` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kubetune.api import SpecError, load_documents, load_tuningjobs
from kubetune.api.duration import parse_duration
from kubetune.cli.main import cli

from tests.unit.manifests import api_example, manifest, tweak

BAD_SECOND = tweak(manifest(name="second"), "spec.parameters[0].min", 5.0)
SECOND_ERROR = "document 2: spec.parameters[0].max: must be greater than min (1.0 <= 5.0)"


def write(tmp_path: Path, name: str, *documents: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def load_errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_tuningjobs(path)
    assert caught.value.source == str(path)
    return [str(error) for error in caught.value.errors]


# --- load_tuningjobs ------------------------------------------------------------------------


def test_single_document(tmp_path: Path) -> None:
    [job] = load_tuningjobs(write(tmp_path, "one.yaml", api_example()))
    assert job.name == "gbm-diabetes"


def test_every_tuningjob_of_a_multi_document_file_in_order(tmp_path: Path) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    path = write(tmp_path, "many.yaml", manifest(name="a"), config_map, manifest(name="b"))
    assert [job.name for job in load_tuningjobs(path)] == ["a", "b"]


def test_bad_second_document_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "two.yaml", manifest(name="first"), BAD_SECOND)
    assert load_errors(path) == [SECOND_ERROR]


def test_every_bad_document_is_reported(tmp_path: Path) -> None:
    bad_first = tweak(manifest(), "spec.limits.maxRuntime", "1d")
    path = write(tmp_path, "two.yaml", bad_first, BAD_SECOND)
    assert load_errors(path) == [
        "document 1: spec.limits.maxRuntime: must be a duration such as 90s, 30m, 2h or 1h30m "
        "(got '1d')",
        SECOND_ERROR,
    ]


def test_single_bad_document_has_no_document_label(tmp_path: Path) -> None:
    path = write(tmp_path, "one.yaml", tweak(manifest(), "spec.limits.parallelTrials", 0))
    assert load_errors(path) == ["spec.limits.parallelTrials: must be >= 1 (got 0)"]
    with pytest.raises(SpecError) as caught:
        load_tuningjobs(path)
    assert str(caught.value) == f"{path}: spec.limits.parallelTrials: must be >= 1 (got 0)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no TuningJob found in the file"),
        ("# only a comment\n", "no TuningJob found in the file"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "no TuningJob found in the file"),
        ("just some words\n", "a TuningJob must be a mapping, got str"),
        ("- a\n- b\n", "a TuningJob must be a mapping, got list"),
    ],
)
def test_files_without_a_tuningjob(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert load_errors(path) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "spec: [unclosed\n  objective: {\n",
        "a: b\n\tc: d\n",
        "command: [python, --lr=${params.lr}]\n",  # "{" opens a flow mapping: quote it
        "key: 'unterminated\n",
    ],
)
def test_text_that_is_not_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    [message] = load_errors(path)
    assert message.startswith("not valid YAML: ")


def test_binary_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00junk")
    [message] = load_errors(path)
    assert message.startswith("cannot read: ")
    assert "UTF-8" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert load_errors(path) == ["cannot read: No such file or directory"]


def test_load_documents_skips_empty_documents() -> None:
    assert load_documents("---\na: 1\n---\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("0.5s", 0.5),
        ("1h1m1s", 3661),
        ("10m10m", 1200),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "90", "2d", "1 h", "-5m", "h", "1.h", "0s", "0m0s", "1h "])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_duration(text)


# --- kubetune validate ----------------------------------------------------------------------


def validate(*paths: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *map(str, paths)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_validate_valid_files_exit_0(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", api_example())
    two = write(tmp_path, "two.yaml", manifest(name="a"), manifest(name="b"))

    code, out, err = validate(one, two)

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{one}: TuningJob gbm-diabetes is valid",
        f"{two}: TuningJob a is valid",
        f"{two}: TuningJob b is valid",
    ]


def test_validate_prints_every_error_on_its_own_line_and_exits_2(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", manifest())
    bad = write(
        tmp_path,
        "a-rather-long-file-name-for-the-bad-manifest.yaml",
        manifest(name="first"),
        BAD_SECOND,
    )
    broken = tweak(
        tweak(manifest(), "spec.objective.direction", "up"), "spec.limits.maxRuntime", "1d"
    )
    worse = write(tmp_path, "worse.yaml", broken)

    code, out, err = validate(good, bad, worse)

    assert code == 2
    assert out.splitlines() == [f"{good}: TuningJob tune is valid"]
    assert err.splitlines() == [
        f"{bad}: {SECOND_ERROR}",
        f"{worse}: spec.objective.direction: must be one of 'minimize' or 'maximize' (got 'up')",
        f"{worse}: spec.limits.maxRuntime: must be a duration such as 90s, 30m, 2h or 1h30m "
        "(got '1d')",
    ]


@pytest.mark.parametrize(
    "content",
    [b"", b"not: [yaml", b"\xff\xfe\x00\x01binary", b"plain text\n", b"- 1\n- 2\n"],
    ids=["empty", "not-yaml", "binary", "text", "list"],
)
def test_validate_never_shows_a_traceback(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.yaml"
    path.write_bytes(content)

    code, out, err = validate(path)

    assert code == 2
    assert out == ""
    assert err.startswith(f"{path}: ")
    assert "Traceback" not in err


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = validate(tmp_path / "nope.yaml")
    assert code == 2
    assert err == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory\n"
