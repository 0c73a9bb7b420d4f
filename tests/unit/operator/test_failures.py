"""How long the tuning loop waits after a failed step, and what it tells the user."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException
from kubetune.operator.failures import MAX_RETRY_SECONDS, failure_condition, retry_delay
from kubetune.runtime.kubernetes.journal import ConcurrentWriterError


def api_error(status: int, retry_after: str | None = None) -> ApiException:
    error = ApiException(status=status, reason="Injected")
    error.headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return error


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_transient_errors_are_retried_within_seconds_then_back_off(draw: float) -> None:
    delays = [retry_delay(api_error(500), n, lambda: draw) for n in range(1, 9)]
    assert 0.5 <= delays[0] <= 1.0  # a 3-second outage costs seconds, not a 300 s resync
    assert delays == sorted(delays)
    assert max(delays) <= MAX_RETRY_SECONDS


def test_jitter_spreads_the_retries_of_many_tuningjobs() -> None:
    delays = {round(retry_delay(api_error(503), 3), 3) for _ in range(50)}
    assert len(delays) > 10
    assert all(2.0 <= d <= 4.0 for d in delays)


@pytest.mark.parametrize(("asked", "expected"), [("7", 7.0), ("600", MAX_RETRY_SECONDS)])
def test_retry_after_is_honoured_up_to_the_cap(asked: str, expected: float) -> None:
    assert retry_delay(api_error(429, asked), 1, lambda: 0.0) == expected


def test_the_condition_names_the_error_without_a_traceback() -> None:
    error = ConcurrentWriterError("another writer appended " + "x" * 5000)
    item = failure_condition(error, 4.0, 0.0, 3)
    assert item["type"] == "Reconciled"
    assert item["status"] == "False"
    assert item["reason"] == "ReconcileError"
    assert item["message"].startswith("ConcurrentWriterError: another writer appended")
    assert len(item["message"]) < 1200
    assert item["observedGeneration"] == 3
    assert item["lastTransitionTime"] == "1970-01-01T00:00:00Z"
