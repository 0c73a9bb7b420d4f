"""What the tuning loop does when a step fails: how long to wait, and what to tell the user.

Transient API errors (a 5xx burst, a 429, a cut connection) are retried within seconds, with
exponential backoff and jitter so that many TuningJobs hit by one outage do not come back in
lockstep, and never later than ``Retry-After`` asks. Anything else is one TuningJob's problem:
it becomes a ``Reconciled=False`` condition on that TuningJob, and never stops the daemon or
any other TuningJob.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetune.api.status import AuxiliaryConditionType, AuxiliaryReason

TRANSIENT_ERRORS = (ApiException, HTTPError, OSError)
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
# A read that failed while the step went on (a finished trial's log): retried at least this
# often, however long it keeps failing. One GET; the trial's slot is idle meanwhile.
MAX_READ_RETRY_SECONDS = 2.0
MAX_MESSAGE_CHARS = 1024  # a condition message, not a traceback


def retry_delay(
    error: BaseException | None,
    failures: int,
    rng: Callable[[], float] = random.random,
    cap: float = MAX_RETRY_SECONDS,
) -> float:
    """Seconds before retrying after the ``failures``-th failure in a row: 1, 2, 4... up to
    ``cap``, each drawn from its upper half (jitter); at least what ``Retry-After`` asks."""
    ceiling = min(cap, FIRST_RETRY_SECONDS * 2.0 ** max(0, min(failures, 32) - 1))
    delay = ceiling * (0.5 + rng() / 2)
    asked = retry_after(error)
    return delay if asked is None else min(cap, max(delay, asked))


def retry_after(error: BaseException | None) -> float | None:
    if not isinstance(error, ApiException) or not error.headers:
        return None
    value = error.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def describe(error: BaseException) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"


def failure_condition(
    error: BaseException, delay: float, now: float, generation: int | None
) -> dict[str, Any]:
    """``Reconciled=False`` with the error, for the TuningJob whose step raised it."""
    message = f"{describe(error)}"[:MAX_MESSAGE_CHARS]
    item: dict[str, Any] = {
        "type": AuxiliaryConditionType.RECONCILED.value,
        "status": "False",
        "reason": AuxiliaryReason.RECONCILE_ERROR.value,
        "message": f"{message}; the study is read back from its journal and retried in "
        f"{delay:.0f}s",
        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
    }
    if generation is not None:
        item["observedGeneration"] = generation
    return item
