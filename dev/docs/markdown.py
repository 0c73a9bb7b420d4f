"""Small Markdown helpers shared by the generators and the link check."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_NOT_IN_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    # The slug is made from the rendered text, so inline-code and emphasis markers go first.
    text = heading.replace("`", "").replace("*", "")
    return _NOT_IN_SLUG.sub("", text.strip().lower()).replace(" ", "-")


def cell(text: str) -> str:
    """Text fit for one table cell: on one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def code(text: str) -> str:
    """Inline code, with a longer fence when the text holds backticks."""
    fence = "``" if "`" in text else "`"
    padding = " " if "`" in text else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub table; cells are taken as they are (escape them with ``cell``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines
