"""A TuningJob's Optuna study kept in the cluster: a journal in ConfigMaps, no database.

Optuna's :class:`~optuna.storages.JournalStorage` rebuilds a study by replaying a log of
operations; :class:`ConfigMapJournalBackend` keeps that log in ConfigMaps owned by the
TuningJob, so an operator killed at any moment rebuilds every study from the cluster alone and
deleting the TuningJob garbage-collects its study.

Layout, for TuningJob ``mnist`` (names and label values hash-shortened when too long)::

    ConfigMap mnist-study-0000   labels   kubetune.io/tuningjob=mnist
                                          kubetune.io/component=study-journal
                                          kubetune.io/study-chunk=0
                                          app.kubernetes.io/managed-by=kubetune
                                 annotations  kubetune.io/tuningjob-name=mnist
                                              kubetune.io/study-chunk-sealed=true  (once full)
                                 ownerReferences  TuningJob mnist (uid), blockOwnerDeletion
                                 immutable: true                                   (once full)
                                 data:
                                   b00000000: <one JSON journal entry per line>
                                   b00000001: ...
    ConfigMap mnist-study-0001   ... the chunk being appended to

Each flush adds one data key (a *batch*, numbered across the whole study) to the last chunk
with a merge patch whose payload is only that batch. A chunk is full when the next batch would
take its data past ``max_chunk_bytes`` (768 KiB by default, counted as the JSON-escaped size so
the object on the wire stays under etcd's and the API server's 1 MiB too); it is then sealed
(annotated and made ``immutable``) and the next batch creates the next chunk. A study of
10,000 trials is a few dozen chunks; none of them ever grows.

RBAC: ``configmaps`` get, list, create, patch, deletecollection in the TuningJob's namespace,
and ``tuningjobs/finalizers`` update (``blockOwnerDeletion`` needs it where the
OwnerReferencesPermissionEnforcement admission plugin is on).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend

from kubetune.api.spec import API_GROUP, API_VERSION, KIND

log = logging.getLogger(__name__)

LABEL_TUNINGJOB = f"{API_GROUP}/tuningjob"
LABEL_COMPONENT = f"{API_GROUP}/component"
LABEL_CHUNK = f"{API_GROUP}/study-chunk"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
ANNOTATION_TUNINGJOB = f"{API_GROUP}/tuningjob-name"
ANNOTATION_SEALED = f"{API_GROUP}/study-chunk-sealed"
ANNOTATION_FORMAT = f"{API_GROUP}/journal-format"
COMPONENT = "study-journal"
MANAGED_BY = "kubetune"
FORMAT = "optuna-journal-ndjson/v1"

DEFAULT_CHUNK_BYTES = 768 * 1024
"""Budget for one chunk's ``data``: well under the API server's 1 MiB ConfigMap limit."""

MAX_NAME_LENGTH = 253  # a ConfigMap name is a DNS subdomain
MAX_LABEL_LENGTH = 63
MERGE_PATCH = "application/merge-patch+json"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
BATCH_KEY = re.compile(r"^b(\d+)$")
_BATCH_OVERHEAD = 6  # the quotes around key and value, the colon and the comma in JSON

T = TypeVar("T")


class StudyJournalError(RuntimeError):
    """The journal could not be read or written (after retries, where retrying made sense)."""


class ConcurrentWriterError(StudyJournalError):
    """Another writer appended to (or sealed) this study's journal behind our back.

    The in-memory view is no longer the study: drop this backend and open a fresh one (in the
    operator: give up leadership or restart the reconcile of this TuningJob).
    """


class JournalEntryTooLargeError(StudyJournalError, ValueError):
    """One journal entry cannot fit in a chunk (e.g. a huge user attribute)."""


def _digest(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def chunk_name(tuningjob: str, index: int) -> str:
    """The name of chunk ``index`` of a TuningJob's study: ``<tuningjob>-study-<index>``.

    Always a valid DNS subdomain of at most 253 characters: long TuningJob names are cut and
    given a stable hash of the full name.
    """
    suffix = f"-study-{index:04d}"
    if len(tuningjob) + len(suffix) <= MAX_NAME_LENGTH:
        return tuningjob + suffix
    digest = _digest(tuningjob)
    keep = MAX_NAME_LENGTH - len(suffix) - len(digest) - 1
    return f"{tuningjob[:keep].rstrip('-.')}-{digest}{suffix}"


def tuningjob_label(tuningjob: str) -> str:
    """The ``kubetune.io/tuningjob`` label value: the name, hash-shortened past 63 characters."""
    if len(tuningjob) <= MAX_LABEL_LENGTH:
        return tuningjob
    digest = _digest(tuningjob)
    keep = MAX_LABEL_LENGTH - len(digest) - 1
    return f"{tuningjob[:keep].rstrip('-._')}-{digest}"


def journal_selector(tuningjob: str) -> str:
    """Label selector matching every chunk of a TuningJob's study journal."""
    return f"{LABEL_TUNINGJOB}={tuningjob_label(tuningjob)},{LABEL_COMPONENT}={COMPONENT}"


def batch_key(sequence: int) -> str:
    return f"b{sequence:08d}"


def _cost(line: str) -> int:
    """Bytes ``line`` plus its newline take inside a JSON string (what the wire carries)."""
    return len(json.dumps(line)) - 2 + 2  # minus the quotes, plus the escaped "\n"


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


@dataclass
class _Chunk:
    """The chunk being appended to: the only one ever written or read again."""

    index: int
    name: str
    resource_version: str
    used: int
    batches: int
    sealed: bool = False


@dataclass(frozen=True)
class _Pending:
    line: str
    cost: int


@dataclass(frozen=True)
class _Batch:
    """The next batch to write. Once sent it is pinned until committed, even across failed
    flushes, so a write whose outcome is unknown is retried with the very same key and value
    (and recognised if it did land) however many entries were appended since."""

    key: str
    value: str
    count: int
    cost: int


class ConfigMapJournalBackend(BaseJournalBackend):
    """An Optuna journal backend that appends to ConfigMaps owned by a TuningJob.

    **Flush contract.** Optuna calls :meth:`append_logs` once per storage operation (a trial's
    ask and tell are some 6-10 of them). Entries are only buffered in memory; :meth:`read_logs`
    returns committed and buffered entries alike, so Optuna reads its own writes. :meth:`flush`
    writes everything buffered in one request (one more per chunk boundary crossed). Entries
    not flushed are lost if the process dies, which is safe only because nothing outside the
    study depends on them yet: the caller must flush **before any external side effect** that
    relies on the study (before creating a trial's Job) and at the end of every reconcile step.
    A crash then loses at most suggestions that nobody acted on.

    **Single writer.** One process writes a TuningJob's journal (the operator runs one replica
    behind a leader lock); the committed part is read from the cluster once, on first use, and
    kept in memory. A second writer is detected rather than silently interleaved: every patch
    carries the chunk's ``resourceVersion`` as a precondition, so a write that raced another
    one gets 409 Conflict; the chunk is then read again and

    - a new batch written by someone else, or a seal we did not make, raises
      :class:`ConcurrentWriterError`;
    - our own batch already there (the previous attempt succeeded but its response was lost)
      counts as success, so a retried write is never applied twice;
    - anything else (a label or annotation edited by hand) is retried with the new version.

    Creating the next chunk is protected the same way: ``AlreadyExists`` is only success if the
    chunk holds exactly our batch, and sealing the full chunk (with the precondition) comes
    first, so a writer holding a stale view cannot append to it any more.

    429, 5xx and connection errors are retried with exponential backoff, honouring
    ``Retry-After``; :class:`StudyJournalError` is raised once ``retry.attempts`` are spent.
    ``on_retry`` is called once per request retried, for a conflict as for an error (the
    operator counts them in ``kubetune_api_retries_total{api="kubernetes"}``).

    Not implemented: :class:`~optuna.storages.journal.BaseJournalSnapshot`. Optuna's snapshot
    is a pickle, and unpickling what anyone allowed to edit ConfigMaps in the namespace wrote
    would hand them code execution in the operator; replaying 10,000 trials takes seconds.
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
        self.api = api
        self.tuningjob = tuningjob
        self.namespace = namespace
        self.uid = uid
        self.max_chunk_bytes = max_chunk_bytes
        self.retry = retry or RetryPolicy()
        self.request_timeout = request_timeout
        self._sleep = sleep
        self.on_retry = on_retry
        self._lock = threading.RLock()
        self._loaded = False
        self._lines: list[str] = []  # committed entries, in order
        self._pending: list[_Pending] = []
        self._inflight: _Batch | None = None
        self._active: _Chunk | None = None
        self._next_sequence = 0

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
        limit = self.max_chunk_bytes - _BATCH_OVERHEAD - len(batch_key(self._next_sequence)) - 2
        for entry in logs:
            line = json.dumps(entry, separators=(",", ":"))
            cost = _cost(line)
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
                    self._create(0 if active is None else active.index + 1)
                elif self._inflight is None and not self._fit(self.max_chunk_bytes - active.used):
                    self._seal(active)
                else:
                    self._patch(active)

    def load(self) -> None:
        """Read the committed journal from the cluster (done on first use anyway)."""
        with self._lock:
            self._ensure_loaded()

    # ---- reading --------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        chunks = sorted(self._list_chunks(), key=lambda pair: pair[0])
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
        active: _Chunk | None = None
        for index, configmap in chunks:
            batches = self._batches(configmap)
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
            annotations = configmap.metadata.annotations or {}
            active = _Chunk(
                index=index,
                name=configmap.metadata.name,
                resource_version=configmap.metadata.resource_version,
                used=sum(_cost_of_batch(key, value) for key, value in _data(configmap).items()),
                batches=len(batches),
                sealed=annotations.get(ANNOTATION_SEALED) == "true",
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

    def _list_chunks(self) -> list[tuple[int, Any]]:
        chunks: list[tuple[int, Any]] = []
        token: str | None = None
        while True:
            page = self._call("list chunks", partial(self._list_page, token))
            for configmap in page.items or []:
                index = self._chunk_index(configmap)
                if index is not None:
                    chunks.append((index, configmap))
            token = getattr(page.metadata, "_continue", None)
            if not token:
                return chunks

    def _list_page(self, token: str | None) -> Any:
        return self.api.list_namespaced_config_map(
            self.namespace,
            label_selector=journal_selector(self.tuningjob),
            limit=16,
            _continue=token,
            _request_timeout=self.request_timeout,
        )

    def _chunk_index(self, configmap: Any) -> int | None:
        meta = configmap.metadata
        if not self._owned(configmap):
            log.warning(
                "ignoring ConfigMap %s/%s: it is not owned by TuningJob %s (uid %s); "
                "left over from an earlier TuningJob of the same name?",
                self.namespace,
                meta.name,
                self.tuningjob,
                self.uid,
            )
            return None
        text = (meta.labels or {}).get(LABEL_CHUNK, "")
        if not text.isdigit():
            log.warning(
                "ignoring ConfigMap %s/%s: bad %s label %r",
                self.namespace,
                meta.name,
                LABEL_CHUNK,
                text,
            )
            return None
        return int(text)

    def _owned(self, configmap: Any) -> bool:
        meta = configmap.metadata
        annotations = meta.annotations or {}
        if annotations.get(ANNOTATION_TUNINGJOB, self.tuningjob) != self.tuningjob:
            return False
        return any(ref.uid == self.uid for ref in meta.owner_references or [])

    def _batches(self, configmap: Any) -> list[tuple[int, str]]:
        batches = []
        for key, value in _data(configmap).items():
            match = BATCH_KEY.match(key)
            if match is None:
                log.warning(
                    "study journal %s: ignoring unexpected key %r in %s",
                    self.tuningjob,
                    key,
                    configmap.metadata.name,
                )
                continue
            batches.append((int(match.group(1)), value))
        batches.sort()
        return batches

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

    # ---- writing --------------------------------------------------------------------------
    def _fit(self, budget: int) -> int:
        """How many pending entries fit, as one batch, in ``budget`` bytes."""
        used = _BATCH_OVERHEAD + len(batch_key(self._next_sequence))
        count = 0
        for entry in self._pending:
            used += entry.cost
            if used > budget:
                break
            count += 1
        return count

    def _batch(self, budget: int) -> _Batch:
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
            self._inflight = _Batch(key, value, count, _cost_of_batch(key, value))
        return self._inflight

    def _committed(self, batch: _Batch) -> None:
        self._lines.extend(entry.line for entry in self._pending[: batch.count])
        del self._pending[: batch.count]
        self._next_sequence += 1
        self._inflight = None

    def _patch(self, active: _Chunk) -> None:
        batch = self._batch(self.max_chunk_bytes - active.used)
        key, value = batch.key, batch.value

        def request() -> Any:
            body = {"metadata": {"resourceVersion": active.resource_version}, "data": {key: value}}
            return self.api.patch_namespaced_config_map(
                active.name,
                self.namespace,
                body,
                _content_type=MERGE_PATCH,
                _request_timeout=self.request_timeout,
            )

        def landed(current: Any) -> bool:
            return self._check_conflict(active, current, {key: value})

        result = self._write(f"append to {active.name}", request, active, landed)
        active.resource_version = result.metadata.resource_version
        active.used += batch.cost
        active.batches += 1
        self._committed(batch)

    def _seal(self, active: _Chunk) -> None:
        def request() -> Any:
            body = {
                "metadata": {
                    "resourceVersion": active.resource_version,
                    "annotations": {ANNOTATION_SEALED: "true"},
                },
                "immutable": True,
            }
            return self.api.patch_namespaced_config_map(
                active.name,
                self.namespace,
                body,
                _content_type=MERGE_PATCH,
                _request_timeout=self.request_timeout,
            )

        def landed(current: Any) -> bool:
            self._check_conflict(active, current, {})
            return (current.metadata.annotations or {}).get(ANNOTATION_SEALED) == "true"

        self._write(f"seal {active.name}", request, active, landed)
        active.sealed = True

    def _create(self, index: int) -> None:
        batch = self._batch(self.max_chunk_bytes)
        key, value = batch.key, batch.value
        name = chunk_name(self.tuningjob, index)
        body = client.V1ConfigMap(
            api_version="v1",
            kind="ConfigMap",
            metadata=client.V1ObjectMeta(
                name=name,
                namespace=self.namespace,
                labels={
                    LABEL_TUNINGJOB: tuningjob_label(self.tuningjob),
                    LABEL_COMPONENT: COMPONENT,
                    LABEL_CHUNK: str(index),
                    LABEL_MANAGED_BY: MANAGED_BY,
                },
                annotations={ANNOTATION_TUNINGJOB: self.tuningjob, ANNOTATION_FORMAT: FORMAT},
                owner_references=[
                    client.V1OwnerReference(
                        api_version=API_VERSION,
                        kind=KIND,
                        name=self.tuningjob,
                        uid=self.uid,
                        controller=False,
                        block_owner_deletion=True,
                    )
                ],
            ),
            data={key: value},
        )

        def request() -> Any:
            return self.api.create_namespaced_config_map(
                self.namespace, body, _request_timeout=self.request_timeout
            )

        def landed(current: Any) -> bool:
            if not self._owned(current):
                raise StudyJournalError(
                    f"ConfigMap {self.namespace}/{name} already exists and does not belong to "
                    f"TuningJob {self.tuningjob} (uid {self.uid}); if an earlier TuningJob of "
                    "the same name was just deleted, retry once it is garbage-collected"
                )
            if _data(current) != {key: value}:
                raise ConcurrentWriterError(
                    f"study journal chunk {self.namespace}/{name} was created by another writer"
                )
            return True

        result = self._write(f"create {name}", request, None, landed, name=name)
        self._active = _Chunk(
            index=index,
            name=name,
            resource_version=result.metadata.resource_version,
            used=batch.cost,
            batches=1,
        )
        self._committed(batch)

    def _check_conflict(self, active: _Chunk, current: Any, ours: dict[str, str]) -> bool:
        """Read back after a 409: True if our write is already there; raise if another writer's
        is; False if only something harmless changed (the caller retries)."""
        batches = self._batches(current)
        known = [(seq, value) for seq, value in batches if seq < self._next_sequence]
        new = {batch_key(seq): value for seq, value in batches if seq >= self._next_sequence}
        if len(known) != active.batches:
            raise ConcurrentWriterError(
                f"study journal chunk {self.namespace}/{active.name} has {len(known)} batches "
                f"where this writer committed {active.batches}; it was changed behind our back"
            )
        if new and new != ours:
            raise ConcurrentWriterError(
                f"another writer appended to study journal chunk {self.namespace}/{active.name} "
                f"({', '.join(sorted(new))}); is a second operator running?"
            )
        sealed = (current.metadata.annotations or {}).get(ANNOTATION_SEALED) == "true"
        if sealed and not active.sealed and ours:
            raise ConcurrentWriterError(
                f"study journal chunk {self.namespace}/{active.name} was sealed by another writer"
            )
        active.resource_version = current.metadata.resource_version
        return bool(new) and new == ours

    def _write(
        self,
        what: str,
        request: Callable[[], Any],
        active: _Chunk | None,
        landed: Callable[[Any], bool],
        *,
        name: str | None = None,
    ) -> Any:
        """Send a write; on 409 read the chunk back and let ``landed`` judge it."""
        target = name if name is not None else active.name if active is not None else ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return request()
            except ApiException as error:
                if error.status != 409:
                    self._retry_or_raise(what, attempt, error)
                    continue
                current = self._read(target)
                if landed(current):
                    log.info("study journal %s: %s had already succeeded", self.tuningjob, what)
                    return current
                log.info(
                    "study journal %s: %s conflicted on a harmless change; retrying",
                    self.tuningjob,
                    what,
                )
                if attempt < self.retry.attempts:
                    self._retried()
            except (urllib3.exceptions.HTTPError, OSError) as error:
                self._retry_or_raise(what, attempt, error)
        raise StudyJournalError(
            f"study journal {self.namespace}/{self.tuningjob}: could not {what} "
            f"after {self.retry.attempts} attempts (conflicts)"
        )

    def _read(self, name: str) -> Any:
        return self._call(
            f"read {name}",
            lambda: self.api.read_namespaced_config_map(
                name, self.namespace, _request_timeout=self.request_timeout
            ),
        )

    def _call(self, what: str, request: Callable[[], T]) -> T:
        """A read, retried on 429/5xx/connection errors."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return request()
            except ApiException as error:
                self._retry_or_raise(what, attempt, error)
            except (urllib3.exceptions.HTTPError, OSError) as error:
                self._retry_or_raise(what, attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover - _retry_or_raise raises last

    def _retry_or_raise(self, what: str, attempt: int, error: BaseException) -> None:
        status = getattr(error, "status", None)
        retryable = status is None or status in RETRYABLE_STATUS
        if not retryable or attempt >= self.retry.attempts:
            detail = f"HTTP {status} {getattr(error, 'reason', '')}".strip() if status else error
            raise StudyJournalError(
                f"study journal {self.namespace}/{self.tuningjob}: could not {what}: {detail}"
                + (f" (after {attempt} attempts)" if retryable else "")
            ) from error
        delay = self.retry.delay(attempt, error)
        log.warning(
            "study journal %s: %s failed (%s); retrying in %.1fs",
            self.tuningjob,
            what,
            status or type(error).__name__,
            delay,
        )
        self._retried()
        self._sleep(delay)

    def _retried(self) -> None:
        if self.on_retry is not None:
            self.on_retry()


def _data(configmap: Any) -> dict[str, str]:
    return dict(configmap.data or {})


def _cost_of_batch(key: str, value: str) -> int:
    return len(key) + _BATCH_OVERHEAD + len(json.dumps(value)) - 2


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
