"""Where a study journal lives: chunk names, labels, the selector, batch keys and their sizes.

See docs/design/journal.md for the layout these functions spell.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from kubetune import names
from kubetune.names import tuningjob_label

COMPONENT: Final = "study-journal"
FORMAT: Final = "optuna-journal-ndjson/v1"

DEFAULT_CHUNK_BYTES: Final = 768 * 1024
"""Budget for one chunk's ``data``: well under the API server's 1 MiB ConfigMap limit."""

BATCH_KEY: Final = re.compile(r"^b(\d+)$")
BATCH_OVERHEAD: Final = 6  # the quotes around key and value, the colon and the comma in JSON

__all__ = [
    "BATCH_KEY",
    "BATCH_OVERHEAD",
    "COMPONENT",
    "DEFAULT_CHUNK_BYTES",
    "FORMAT",
    "batch_cost",
    "batch_key",
    "chunk_annotations",
    "chunk_labels",
    "chunk_name",
    "entry_cost",
    "journal_selector",
    "tuningjob_label",
]


def chunk_name(tuningjob: str, index: int) -> str:
    """The name of chunk ``index`` of a TuningJob's study: ``<tuningjob>-study-<index>``.

    Always a valid DNS subdomain of at most 253 characters: long TuningJob names are cut and
    given a stable hash of the full name (``names.shorten``).
    """
    return names.shorten(tuningjob, f"-study-{index:04d}", names.MAX_SUBDOMAIN_LENGTH)


def journal_selector(tuningjob: str) -> str:
    """Label selector matching every chunk of a TuningJob's study journal."""
    return (
        f"{names.LABEL_TUNINGJOB}={tuningjob_label(tuningjob)},{names.LABEL_COMPONENT}={COMPONENT}"
    )


def chunk_labels(tuningjob: str, index: int) -> dict[str, str]:
    return {
        names.LABEL_TUNINGJOB: tuningjob_label(tuningjob),
        names.LABEL_COMPONENT: COMPONENT,
        names.LABEL_CHUNK: str(index),
        names.LABEL_MANAGED_BY: names.MANAGED_BY,
    }


def chunk_annotations(tuningjob: str) -> dict[str, str]:
    """The full TuningJob name (labels may hold a shortened one) and the entries' format."""
    return {names.ANNOTATION_TUNINGJOB: tuningjob, names.ANNOTATION_FORMAT: FORMAT}


def is_sealed(configmap: Any) -> bool:
    return (configmap.metadata.annotations or {}).get(names.ANNOTATION_SEALED) == "true"


def batch_key(sequence: int) -> str:
    return f"b{sequence:08d}"


def entry_cost(line: str) -> int:
    """Bytes ``line`` plus its newline take inside a JSON string (what the wire carries)."""
    return len(json.dumps(line)) - 2 + 2  # minus the quotes, plus the escaped "\n"


def batch_cost(key: str, value: str) -> int:
    """Bytes one data key and its value take in the chunk's JSON ``data``."""
    return len(key) + BATCH_OVERHEAD + len(json.dumps(value)) - 2


def data(configmap: Any) -> dict[str, str]:
    return dict(configmap.data or {})
