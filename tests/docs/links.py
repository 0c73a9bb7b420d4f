"""Relative links of the Markdown pages, and the headings they may point at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dev.docs.markdown import slug

_FENCE = re.compile(r"^(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.target}"


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks, inline code spans blanked."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            yield number, _CODE_SPAN.sub("", line)


def links(page: Path) -> Iterator[Link]:
    for number, line in prose_lines(page.read_text(encoding="utf-8")):
        for match in _LINK.finditer(line):
            if not _EXTERNAL.match(match[1]):
                yield Link(page, number, match[1])


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _headings(page.read_text(encoding="utf-8")):
        base = slug(line)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def _headings(text: str) -> Iterator[tuple[int, str]]:
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced and (heading := _HEADING.match(line)):
            yield number, heading[1]


def broken(link: Link, root: Path) -> str | None:
    """Why the link leads nowhere, or None."""
    path_text, _, anchor = link.target.partition("#")
    target = (link.page.parent / path_text).resolve() if path_text else link.page
    if not target.exists():
        return "no such file"
    if root not in (target, *target.parents):
        return "outside the repository"
    if anchor:
        if target.suffix != ".md":
            return "an anchor into a file that is not Markdown"
        if anchor not in anchors(target):
            return f"no heading #{anchor} in {target.relative_to(root)}"
    return None
