"""How long to wait before retrying a Kubernetes request the journal sends."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff for 409/429/5xx and connection errors."""

    attempts: int = 6
    initial_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (1-based); honours ``Retry-After``."""
        backoff = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))
        retry_after = _retry_after(error)
        if retry_after is not None:
            return min(self.max_retry_after, max(backoff, retry_after))
        return backoff


def _retry_after(error: BaseException | None) -> float | None:
    headers = getattr(error, "headers", None)
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
