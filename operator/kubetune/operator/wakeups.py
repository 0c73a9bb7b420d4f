"""Wake a TuningJob's tuning loop when something it depends on changes.

Job and pod watch events set the TuningJob's flag; its daemon sleeps on it, so a trial that
finishes is followed by the next one at once, with no polling.
"""

from __future__ import annotations

import asyncio
import contextlib

Key = tuple[str, str]  # (namespace, TuningJob name)
SETTLE_SECONDS = 0.005


class Wakeups:
    def __init__(self) -> None:
        self._flags: dict[Key, asyncio.Event] = {}

    def flag(self, key: Key) -> asyncio.Event:
        flag = self._flags.get(key)
        if flag is None:
            flag = self._flags[key] = asyncio.Event()
        return flag

    def wake(self, key: Key) -> None:
        self.flag(key).set()

    def forget(self, key: Key) -> None:
        self._flags.pop(key, None)

    async def sleep(self, key: Key, timeout: float) -> None:
        """Until woken or ``timeout`` seconds pass; a wake during the last step counts.

        Once woken, wait ``SETTLE_SECONDS`` more: one trial's Job and pod change several times
        within milliseconds (created, scheduled, running, succeeded, Job complete), and one
        reconcile step for the burst costs far less than one per event.
        """
        flag = self.flag(key)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flag.wait(), timeout)
        if flag.is_set():
            await asyncio.sleep(SETTLE_SECONDS)
        flag.clear()
