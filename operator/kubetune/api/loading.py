"""Turn manifests (dicts, YAML text or files) into validated TuningJobs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kubetune.api.bounds import load_bounded_yaml, nesting_error, size_error
from kubetune.api.errors import FieldError, SpecError, from_validation_error
from kubetune.api.spec import TuningJob
from kubetune.api.validation import partial_semantic_errors, semantic_errors


def parse_tuningjob(manifest: Mapping[str, Any]) -> TuningJob:
    """Validate one manifest; raises SpecError listing every problem."""
    if not isinstance(manifest, Mapping):
        raise SpecError(
            [FieldError("", f"a TuningJob must be a mapping, got {type(manifest).__name__}")]
        )
    too_deep = nesting_error(manifest)  # before pydantic recurses into it
    if too_deep is not None:
        raise SpecError([too_deep])
    too_big = size_error(manifest)
    if too_big is not None:
        raise SpecError([too_big])
    try:
        job = TuningJob.model_validate(manifest)
    except ValidationError as error:
        # The cross-field rules too, on whatever parts are valid: every problem in one go.
        found = [*from_validation_error(error), *partial_semantic_errors(manifest, error)]
        raise SpecError(list(dict.fromkeys(found))) from None
    errors = semantic_errors(job)
    if errors:
        raise SpecError(errors)
    return job


def load_documents(text: str, source: str = "<manifest>") -> list[Any]:
    """Every non-empty YAML document in ``text``, within the bounds of ``api/bounds.py``."""
    try:
        return load_bounded_yaml(text, source)
    except yaml.YAMLError as error:
        raise SpecError([FieldError("", f"not valid YAML: {error}")], source) from None


def load_tuningjobs(path: Path) -> list[TuningJob]:
    """Every TuningJob in a (multi-document) YAML file; other kinds are skipped.

    All documents are checked before anything is raised, so one run reports every problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError([FieldError("", f"cannot read: {error.strerror}")], str(path)) from None
    except UnicodeDecodeError as error:
        problem = f"cannot read: not UTF-8 text ({error.reason} at byte {error.start})"
        raise SpecError([FieldError("", problem)], str(path)) from None
    documents = load_documents(text, str(path))
    jobs: list[TuningJob] = []
    problems: list[FieldError] = []
    for index, document in enumerate(documents):
        if isinstance(document, Mapping) and document.get("kind") not in (None, "TuningJob"):
            continue
        label = f"document {index + 1}: " if len(documents) > 1 else ""
        try:
            jobs.append(parse_tuningjob(document))
        except SpecError as error:
            problems.extend(
                FieldError(label + e.path, e.message) if label else e for e in error.errors
            )
    if problems:
        raise SpecError(problems, str(path))
    if not jobs:
        raise SpecError([FieldError("", "no TuningJob found in the file")], str(path))
    return jobs
