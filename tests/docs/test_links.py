"""Every relative link in the README and the docs points at a file (and heading) that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.links import Link, anchors, broken, links

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [
        REPO_ROOT / "README.md",
        *(REPO_ROOT / "docs").rglob("*.md"),
        REPO_ROOT / "examples" / "README.md",
        *(REPO_ROOT / "bench").glob("*.md"),
    ]
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    problems = [f"{link}: {why}" for link in links(page) if (why := broken(link, REPO_ROOT))]
    assert not problems, "\n".join(problems)


def test_the_readme_links_into_docs() -> None:
    targets = {link.target.partition("#")[0] for link in links(REPO_ROOT / "README.md")}
    for page in ("docs/reference/tuningjob.md", "docs/install.md", "docs/development.md"):
        assert page in targets, page


def test_the_check_catches_a_missing_file_and_heading(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## The operator's own `metrics`\n\n[a](other.md) [b](#title) "
        "[c](#the-operators-own-metrics) [d](#nowhere) `[e](in-code.md)`\n"
        "```\n[f](in-a-fence.md)\n```\n[g](https://example.com/x.md)\n",
        encoding="utf-8",
    )
    found = {link.target: broken(link, tmp_path) for link in links(page)}
    assert found == {
        "other.md": "no such file",
        "#title": None,
        "#the-operators-own-metrics": None,
        "#nowhere": "no heading #nowhere in page.md",
    }
    assert anchors(page) == {"title", "the-operators-own-metrics"}
    assert str(Link(page, 5, "other.md")).endswith("page.md:5: other.md")
