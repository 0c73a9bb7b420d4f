"""``spec.limits``: durations that parse."""

from __future__ import annotations

from collections.abc import Iterator

from kubetune.api.duration import parse_duration
from kubetune.api.errors import FieldError
from kubetune.api.validation.parts import Parts


def limits_errors(parts: Parts) -> Iterator[FieldError]:
    limits = parts.limits
    if limits.model is None:
        return
    for field, value in (
        ("maxRuntime", limits.model.max_runtime),
        ("trialTimeout", limits.model.trial_timeout),
        ("pendingTimeout", limits.model.pending_timeout),
        ("queueTimeout", limits.model.queue_timeout),
    ):
        if value is not None and limits.ok(field) is not None:
            try:
                parse_duration(value)
            except ValueError as error:
                yield FieldError(f"spec.limits.{field}", str(error))
