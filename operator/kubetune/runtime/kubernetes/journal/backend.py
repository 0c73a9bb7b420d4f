"""The Optuna side of the study journal: a journal backend that buffers, flushes and replays.

What it stores where, and the flush and single-writer contracts: docs/design/journal.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend

from kubetune.runtime.kubernetes.journal.errors import (
    JournalEntryTooLargeError,
    StudyJournalError,
)
from kubetune.runtime.kubernetes.journal.layout import (
    BATCH_OVERHEAD,
    DEFAULT_CHUNK_BYTES,
    batch_cost,
    batch_key,
    chunk_name,
    data,
    entry_cost,
    is_sealed,
    journal_selector,
)
from kubetune.runtime.kubernetes.journal.retry import RetryPolicy
from kubetune.runtime.kubernetes.journal.storage import Batch, Chunk, ChunkStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    line: str
    cost: int


class ConfigMapJournalBackend(BaseJournalBackend):
    """An Optuna journal backend that appends to ConfigMaps owned by a TuningJob.

    :meth:`append_logs` only buffers; :meth:`read_logs` returns committed and buffered entries
    alike; :meth:`flush` writes what is buffered, and must be called before any side effect
    that depends on the study. One writer per journal: a second one is detected
    (:class:`ConcurrentWriterError`), never interleaved. See docs/design/journal.md.

    Not implemented: :class:`~optuna.storages.journal.BaseJournalSnapshot` (a pickle: unsafe
    to load from ConfigMaps that others may edit).
    """

    def __init__(
        self,
        api: Any,
        tuningjob: str,
        namespace: str,
        uid: str,
        *,
        max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        retry: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        """``api`` is a configured :class:`kubernetes.client.CoreV1Api`; ``uid`` the TuningJob's;
        ``on_retry`` is called before each request retried (e.g. to count retries)."""
        if not uid:
            raise ValueError("the TuningJob's uid is required (the study's chunks are owned by it)")
        self.tuningjob = tuningjob
        self.namespace = namespace
        self.uid = uid
        self.max_chunk_bytes = max_chunk_bytes
        self.store = ChunkStore(
            api,
            tuningjob,
            namespace,
            uid,
            retry=retry or RetryPolicy(),
            request_timeout=request_timeout,
            sleep=sleep,
            on_retry=on_retry,
        )
        self._lock = threading.RLock()
        self._loaded = False
        self._lines: list[str] = []  # committed entries, in order
        self._pending: list[_Pending] = []
        self._inflight: Batch | None = None
        self._active: Chunk | None = None
        self._next_sequence = 0

    @property
    def on_retry(self) -> Callable[[], None] | None:
        return self.store.on_retry

    @on_retry.setter
    def on_retry(self, callback: Callable[[], None] | None) -> None:
        self.store.on_retry = callback

    # ---- BaseJournalBackend ---------------------------------------------------------------
    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        """Committed and buffered entries from ``log_number_from`` on."""
        with self._lock:
            self._ensure_loaded()
            committed = len(self._lines)
            logs = [json.loads(line) for line in self._lines[log_number_from:]]
            start = max(0, log_number_from - committed)
            logs.extend(json.loads(entry.line) for entry in self._pending[start:])
            return logs

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Buffer ``logs``; they reach the cluster on the next :meth:`flush`."""
        entries = []
        limit = self.max_chunk_bytes - BATCH_OVERHEAD - len(batch_key(self._next_sequence)) - 2
        for entry in logs:
            line = json.dumps(entry, separators=(",", ":"))
            cost = entry_cost(line)
            if cost > limit:
                raise JournalEntryTooLargeError(
                    f"a study journal entry of {cost} bytes does not fit in a chunk of "
                    f"{self.max_chunk_bytes} bytes (op_code {entry.get('op_code')}); "
                    "keep trial and study attributes small"
                )
            entries.append(_Pending(line, cost))
        with self._lock:
            self._ensure_loaded()
            self._pending.extend(entries)

    # ---- public API -----------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """How many entries are buffered, not yet in the cluster."""
        return len(self._pending)

    @property
    def committed(self) -> int:
        """How many entries are known to be in the cluster."""
        return len(self._lines)

    @property
    def chunks(self) -> int:
        """How many chunks the journal has."""
        with self._lock:
            self._ensure_loaded()
            return 0 if self._active is None else self._active.index + 1

    def flush(self) -> None:
        """Write every buffered entry to the cluster: one request, a few at chunk boundaries.

        On error the entries not yet written stay buffered, so flushing again later resumes.
        """
        with self._lock:
            self._ensure_loaded()
            while self._pending:
                active = self._active
                if active is None or active.sealed:
                    index = 0 if active is None else active.index + 1
                    batch = self._batch(self.max_chunk_bytes)
                    self._active = self.store.create(index, batch)
                    self._committed(batch)
                elif self._inflight is None and not self._fit(self.max_chunk_bytes - active.used):
                    self.store.seal(active, self._next_sequence)
                else:
                    batch = self._batch(self.max_chunk_bytes - active.used)
                    self.store.append(active, batch, self._next_sequence)
                    self._committed(batch)

    def load(self) -> None:
        """Read the committed journal from the cluster (done on first use anyway)."""
        with self._lock:
            self._ensure_loaded()

    # ---- replay ---------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        chunks = sorted(self.store.list_chunks(), key=lambda pair: pair[0])
        indexes = [index for index, _ in chunks]
        if indexes != list(range(len(chunks))):
            missing = sorted(set(range(max(indexes) + 1)) - set(indexes))
            problem = (
                f"is missing chunk {chunk_name(self.tuningjob, missing[0])}"
                if missing
                else f"has duplicate chunks (indexes {indexes})"
            )
            raise StudyJournalError(
                f"the study journal of TuningJob {self.namespace}/{self.tuningjob} {problem}; "
                "it cannot be replayed"
            )
        lines: list[str] = []
        next_sequence = 0
        active: Chunk | None = None
        for index, configmap in chunks:
            batches = self.store.batches(configmap)
            for sequence, value in batches:
                if sequence < next_sequence:
                    log.warning(
                        "study journal %s: batch %s out of order in chunk %s",
                        self.tuningjob,
                        batch_key(sequence),
                        configmap.metadata.name,
                    )
                next_sequence = max(next_sequence, sequence + 1)
                lines.extend(self._parse(value, configmap.metadata.name, sequence))
            active = Chunk(
                index=index,
                name=configmap.metadata.name,
                resource_version=configmap.metadata.resource_version,
                used=sum(batch_cost(key, value) for key, value in data(configmap).items()),
                batches=len(batches),
                sealed=is_sealed(configmap),
            )
        self._lines = lines
        self._active = active
        self._next_sequence = next_sequence
        self._loaded = True
        log.debug(
            "study journal %s/%s: %d entries in %d chunks",
            self.namespace,
            self.tuningjob,
            len(lines),
            len(chunks),
        )

    def _parse(self, value: str, name: str, sequence: int) -> Iterator[str]:
        for number, line in enumerate(value.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict) or "op_code" not in entry:
                log.warning(
                    "study journal %s: skipping malformed entry %s:%s line %d: %.120r",
                    self.tuningjob,
                    name,
                    batch_key(sequence),
                    number,
                    line,
                )
                continue
            yield line

    # ---- batching -------------------------------------------------------------------------
    def _fit(self, budget: int) -> int:
        """How many pending entries fit, as one batch, in ``budget`` bytes."""
        used = BATCH_OVERHEAD + len(batch_key(self._next_sequence))
        count = 0
        for entry in self._pending:
            used += entry.cost
            if used > budget:
                break
            count += 1
        return count

    def _batch(self, budget: int) -> Batch:
        """The in-flight batch, or a new one of as many pending entries as ``budget`` takes."""
        if self._inflight is None:
            count = self._fit(budget)
            if count == 0:  # append_logs refuses entries too big for an empty chunk
                raise JournalEntryTooLargeError(
                    f"study journal {self.namespace}/{self.tuningjob}: the next entry does not "
                    f"fit in {budget} bytes"
                )
            key = batch_key(self._next_sequence)
            value = "".join(entry.line + "\n" for entry in self._pending[:count])
            self._inflight = Batch(key, value, count, batch_cost(key, value))
        return self._inflight

    def _committed(self, batch: Batch) -> None:
        self._lines.extend(entry.line for entry in self._pending[: batch.count])
        del self._pending[: batch.count]
        self._next_sequence += 1
        self._inflight = None


class KubernetesJournalStorage(JournalStorage):
    """A :class:`~optuna.storages.JournalStorage` over a :class:`ConfigMapJournalBackend`.

    Hand it to :class:`~kubetune.search.study.TuningStudy` like any Optuna storage, and call
    :meth:`flush` before any side effect that depends on the study (see the backend's flush
    contract). Opening it lists the study's chunks once; after that, reads are served from
    memory and each flush is one merge patch.

    Errors: :class:`StudyJournalError` means the API kept failing (retry the reconcile later;
    buffered entries are kept); :class:`ConcurrentWriterError` means this instance's view is
    stale: drop it and open a fresh one.
    """

    def __init__(self, backend: ConfigMapJournalBackend) -> None:
        super().__init__(backend)
        self.backend = backend

    @property
    def on_retry(self) -> Callable[[], None] | None:
        """Called before each Kubernetes request the journal retries (a conflict or a 429,
        5xx or connection error), e.g. to count retries."""
        return self.backend.on_retry

    @on_retry.setter
    def on_retry(self, callback: Callable[[], None] | None) -> None:
        self.backend.on_retry = callback

    def flush(self) -> None:
        """Write every buffered journal entry to the cluster."""
        self.backend.flush()


def open_journal_storage(
    api: Any,
    tuningjob: str,
    namespace: str,
    uid: str,
    **options: Any,
) -> KubernetesJournalStorage:
    """Open (rebuilding from the cluster) the study storage of a TuningJob.

    ``api`` is a configured :class:`kubernetes.client.CoreV1Api`; ``options`` go to
    :class:`ConfigMapJournalBackend` (``max_chunk_bytes``, ``retry``, ``request_timeout``,
    ``on_retry``).
    """
    backend = ConfigMapJournalBackend(api, tuningjob, namespace, uid, **options)
    return KubernetesJournalStorage(backend)


def delete_study_journal(api: Any, tuningjob: str, namespace: str) -> None:
    """Delete every chunk of a TuningJob's study journal (garbage collection does this too
    when the TuningJob is deleted; this is for starting a study over)."""
    api.delete_collection_namespaced_config_map(
        namespace, label_selector=journal_selector(tuningjob)
    )
