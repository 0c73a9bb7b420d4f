"""The generated docs are up to date, and say what their sources define, all of it."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from dev.docs import cli_reference, crd_reference, helm_values
from dev.docs.__main__ import main
from dev.docs.generated import GENERATED, Generated, MissingMarkers

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"


@pytest.mark.parametrize("doc", GENERATED, ids=lambda d: str(d.path))
def test_committed_doc_is_regenerated_unchanged(doc: Generated) -> None:
    committed = (REPO_ROOT / doc.path).read_text(encoding="utf-8")
    assert doc.render(REPO_ROOT, committed) == committed, (
        f"{doc.path} is out of date: run python -m dev.docs"
    )


def test_check_mode_reports_a_stale_doc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for doc in GENERATED:
        (tmp_path / doc.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / doc.path, tmp_path / doc.path)
    for source in (crd_reference.SOURCE, helm_values.SOURCE):
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / source, tmp_path / source)
    assert main(["--check", "--root", str(tmp_path)]) == 0
    values = tmp_path / helm_values.SOURCE
    values.write_text(
        values.read_text().replace("finishedJobRetention: 10m", "finishedJobRetention: 1h")
    )
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "docs/install.md: out of date" in capsys.readouterr().out
    assert main(["--root", str(tmp_path)]) == 0
    assert (
        "| `operator.finishedJobRetention` | `1h` |" in (tmp_path / "docs/install.md").read_text()
    )
    assert main(["--check", "--root", str(tmp_path)]) == 0


def test_a_generated_part_needs_its_markers(tmp_path: Path) -> None:
    (doc,) = [d for d in GENERATED if d.part is not None]
    with pytest.raises(MissingMarkers, match=r"docs/install\.md"):
        doc.render(REPO_ROOT, "# Install\n\nno markers\n")


# --- the TuningJob reference: every field of the CRD ----------------------------------------


def fields(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """(section, field) for every property in the schema, below objects and arrays."""
    for name, child in schema.get("properties", {}).items():
        yield path, name
        nested = child.get("items", {}) if child.get("type") == "array" else child
        suffix = "[]" if child.get("type") == "array" else ""
        yield from fields(nested, f"{path}.{name}{suffix}")


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## `([^`]+)`$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_reference_has_a_row_for_every_field_with_its_description() -> None:
    crd = yaml.safe_load((REPO_ROOT / crd_reference.SOURCE).read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    written = sections((DOCS / "reference" / "tuningjob.md").read_text())
    expected = [*fields(schema["spec"], "spec"), *fields(schema["status"], "status")]
    assert len(expected) > 80
    for section, name in expected:
        assert section in written, section
        rows = [line for line in written[section].splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, (section, name)
    limits = written["spec.limits"]
    (max_trials,) = [line for line in limits.splitlines() if line.startswith("| `maxTrials`")]
    assert "Required unless strategy.algorithm is grid" in max_trials
    assert "Schema: >= 1; <= 100000." in max_trials
    (parallel,) = [line for line in limits.splitlines() if line.startswith("| `parallelTrials`")]
    assert "| `1` |" in parallel  # the default


# --- the CLI and operator-flag references: every option of every command ---------------------


def test_cli_reference_documents_every_command_and_option() -> None:
    cli = (DOCS / "reference" / "cli.md").read_text()
    flags = (DOCS / "reference" / "operator-flags.md").read_text()
    commands = dict(cli_reference.commands(cli_reference.root_command()))
    assert {"kubetune run", "kubetune validate", "kubetune operator"} <= commands.keys()
    for name, command in commands.items():
        assert f"## `{name}`" in cli, name
        page = flags if name == "kubetune operator" else sections(cli)[name]
        for option in command.params:
            if isinstance(option, click.Option):
                for opt in option.opts + option.secondary_opts:
                    assert f"`{opt}`" in page, (name, opt)
                if isinstance(option.envvar, str):
                    assert f"`{option.envvar}`" in page, (name, option.envvar)


def test_every_flag_the_chart_passes_is_a_documented_operator_flag() -> None:
    deployment = (REPO_ROOT / "charts/kubetune/templates/deployment.yaml").read_text()
    passed = set(re.findall(r"^\s*- (--[a-z-]+)", deployment, flags=re.MULTILINE))
    assert {"--health-port", "--finished-job-retention", "--no-keep-best-job"} <= passed
    table = (DOCS / "reference" / "operator-flags.md").read_text()
    documented = set(re.findall(r"`(--[a-z-]+)`", table))
    assert passed <= documented, passed - documented


# --- the Helm values table: every value, its default and description ------------------------


def leaves(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def shown(default: Any) -> str:
    """A default as the table writes it."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, list | dict):
        return json.dumps(default, separators=(",", ":"))
    return '""' if default == "" else str(default)


def test_values_table_covers_every_value_with_its_default() -> None:
    text = (REPO_ROOT / helm_values.SOURCE).read_text()
    install = (DOCS / "install.md").read_text()
    rows = {line.split("`")[1]: line for line in install.splitlines() if line.startswith("| `")}
    for path, default in leaves(yaml.safe_load(text)):
        documented = [p for p in rows if path == p or path.startswith(p + ".")]
        assert documented, path
        if path in rows:
            assert f"| `{path}` | `{shown(default)}` |" in rows[path], path
    retention = rows["operator.finishedJobRetention"]
    assert "--finished-job-retention" in retention
    assert "never" in retention


def test_an_undocumented_value_is_refused() -> None:
    text = "image:\n  # -- The image.\n  repository: x\n  tag: ''\n"
    with pytest.raises(helm_values.UndocumentedValue, match=r"image\.tag"):
        list(helm_values.rows(yaml.safe_load(text), helm_values.comments(text)))


def test_comments_follow_nesting_and_span_lines() -> None:
    text = (
        "# -- Top.\ntop: 1\nnested:\n  # -- First line\n  # second line.\n  deep: {}\n"
        "  # a plain comment\n  other: 2\n"
    )
    assert helm_values.comments(text) == {"top": "Top.", "nested.deep": "First line second line."}
