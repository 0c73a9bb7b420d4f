"""The TuningJobs the README and the docs show are valid, as kubetune itself judges them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from kubetune.api import SpecError, parse_tuningjob

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def shown_tuningjobs() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in _YAML_BLOCK.findall(page.read_text(encoding="utf-8")):
            if re.search(r"^kind: TuningJob$", block, re.MULTILINE):
                found.append((str(page.relative_to(REPO_ROOT)), block))
    return found


def test_the_readme_and_the_guide_show_a_tuningjob() -> None:
    pages = {page for page, _ in shown_tuningjobs()}
    assert {"README.md", "docs/tuningjob.md"} <= pages


@pytest.mark.parametrize(("page", "block"), shown_tuningjobs(), ids=lambda x: x[:40])
def test_shown_tuningjob_is_valid(page: str, block: str) -> None:
    try:
        parse_tuningjob(yaml.safe_load(block))
    except SpecError as error:
        pytest.fail(f"{page}: {error}")
