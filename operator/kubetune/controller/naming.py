"""Deterministic trial names: ``<tuningjob>-<number>``, always a valid Kubernetes name."""

from __future__ import annotations

import hashlib

# Job names end up in the `batch.kubernetes.io/job-name` pod label, capped at 63 characters.
MAX_NAME_LENGTH = 63


def label_value(tuningjob: str) -> str:
    """The TuningJob's name as a label value (at most 63 characters, hash-shortened beyond)."""
    if len(tuningjob) <= MAX_NAME_LENGTH:
        return tuningjob
    digest = hashlib.sha256(tuningjob.encode()).hexdigest()[:8]
    return f"{tuningjob[: MAX_NAME_LENGTH - len(digest) - 1].rstrip('-')}-{digest}"


def trial_name(tuningjob: str, number: int) -> str:
    """The trial's (and its Job's) name; long TuningJob names are shortened with a stable hash."""
    suffix = f"-{number}"
    name = tuningjob + suffix
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(tuningjob.encode()).hexdigest()[:8]
    keep = MAX_NAME_LENGTH - len(suffix) - len(digest) - 1
    return f"{tuningjob[:keep].rstrip('-')}-{digest}{suffix}"
