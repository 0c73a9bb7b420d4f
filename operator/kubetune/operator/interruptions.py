"""Interruptions of trial pods, noted from watch events as they happen.

An evicted or preempted pod carries the ``DisruptionTarget`` condition only for the moment
between the eviction and its deletion, and the Job replaces it at once: a reconcile step that
reads the watch cache later may never see it. The pod event handler notes each one here, and
the TuningJob's loop hands them to its backend, which reports them until the study has
journaled them (from then on the journal is the record: a restarted operator needs nothing
from here).
"""

from __future__ import annotations

from collections.abc import Mapping

from kubetune.operator.wakeups import Key

MAX_PER_TUNINGJOB = 10_000  # bounded memory whatever happens to a cluster


class InterruptionLog:
    def __init__(self) -> None:
        self._seen: dict[Key, dict[int, dict[str, str]]] = {}

    def note(self, key: Key, trial: int, uid: str, what: str) -> None:
        trials = self._seen.setdefault(key, {})
        if sum(len(v) for v in trials.values()) >= MAX_PER_TUNINGJOB:
            return
        trials.setdefault(trial, {}).setdefault(uid, what)

    def of(self, key: Key) -> Mapping[int, Mapping[str, str]]:
        return self._seen.get(key, {})

    def forget(self, key: Key) -> None:
        self._seen.pop(key, None)
