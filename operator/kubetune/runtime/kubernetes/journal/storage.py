"""The ConfigMap write protocol of a study journal: create, append and seal chunks, safely.

Every write carries a precondition; a 409 is read back and judged (ours already landed, a
harmless edit, or another writer). 429, 5xx and connection errors are retried with backoff.
See docs/design/journal.md ("Single writer", "Errors and retries").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune import names
from kubetune.runtime.kubernetes.journal.errors import ConcurrentWriterError, StudyJournalError
from kubetune.runtime.kubernetes.journal.layout import (
    BATCH_KEY,
    batch_key,
    chunk_annotations,
    chunk_labels,
    chunk_name,
    data,
    is_sealed,
    journal_selector,
)
from kubetune.runtime.kubernetes.journal.retry import RETRYABLE_STATUS, RetryPolicy

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
LIST_PAGE_SIZE = 16  # chunks are up to 768 KiB each: a page stays a few MiB

T = TypeVar("T")


@dataclass
class Chunk:
    """The chunk being appended to: the only one ever written or read again."""

    index: int
    name: str
    resource_version: str
    used: int
    batches: int
    sealed: bool = False


@dataclass(frozen=True)
class Batch:
    """The next batch to write. Once sent it is pinned until committed, even across failed
    flushes, so a write whose outcome is unknown is retried with the very same key and value
    (and recognised if it did land) however many entries were appended since."""

    key: str
    value: str
    count: int
    cost: int


class ChunkStore:
    """The chunks of one TuningJob's journal in the cluster, read and written with retries."""

    def __init__(
        self,
        api: Any,
        tuningjob: str,
        namespace: str,
        uid: str,
        *,
        retry: RetryPolicy,
        request_timeout: float,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.api = api
        self.tuningjob = tuningjob
        self.namespace = namespace
        self.uid = uid
        self.retry = retry
        self.request_timeout = request_timeout
        self.sleep = sleep
        self.on_retry = on_retry

    # ---- reading --------------------------------------------------------------------------
    def list_chunks(self) -> list[tuple[int, Any]]:
        """Every chunk owned by this TuningJob, with its index, in the order listed."""
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

    def batches(self, configmap: Any) -> list[tuple[int, str]]:
        """A chunk's batches as (sequence, value), in order; unexpected keys are ignored."""
        batches = []
        for key, value in data(configmap).items():
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

    def _list_page(self, token: str | None) -> Any:
        return self.api.list_namespaced_config_map(
            self.namespace,
            label_selector=journal_selector(self.tuningjob),
            limit=LIST_PAGE_SIZE,
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
        text = (meta.labels or {}).get(names.LABEL_CHUNK, "")
        if not text.isdigit():
            log.warning(
                "ignoring ConfigMap %s/%s: bad %s label %r",
                self.namespace,
                meta.name,
                names.LABEL_CHUNK,
                text,
            )
            return None
        return int(text)

    def _owned(self, configmap: Any) -> bool:
        meta = configmap.metadata
        annotations = meta.annotations or {}
        if annotations.get(names.ANNOTATION_TUNINGJOB, self.tuningjob) != self.tuningjob:
            return False
        return any(ref.uid == self.uid for ref in meta.owner_references or [])

    # ---- writing --------------------------------------------------------------------------
    def append(self, active: Chunk, batch: Batch, next_sequence: int) -> None:
        """Add ``batch`` to the chunk being appended to (one merge patch, preconditioned)."""
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
            return self._check_conflict(active, current, next_sequence, {key: value})

        result = self._write(f"append to {active.name}", request, active.name, landed)
        active.resource_version = result.metadata.resource_version
        active.used += batch.cost
        active.batches += 1

    def seal(self, active: Chunk, next_sequence: int) -> None:
        """Mark the full chunk sealed and immutable: no stale writer can append to it after."""

        def request() -> Any:
            body = {
                "metadata": {
                    "resourceVersion": active.resource_version,
                    "annotations": {names.ANNOTATION_SEALED: "true"},
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
            self._check_conflict(active, current, next_sequence, {})
            return is_sealed(current)

        self._write(f"seal {active.name}", request, active.name, landed)
        active.sealed = True

    def create(self, index: int, batch: Batch) -> Chunk:
        """Create chunk ``index`` holding ``batch``; it becomes the chunk appended to."""
        key, value = batch.key, batch.value
        name = chunk_name(self.tuningjob, index)
        body = client.V1ConfigMap(
            api_version="v1",
            kind="ConfigMap",
            metadata=client.V1ObjectMeta(
                name=name,
                namespace=self.namespace,
                labels=chunk_labels(self.tuningjob, index),
                annotations=chunk_annotations(self.tuningjob),
                owner_references=[
                    client.V1OwnerReference(
                        api_version=names.API_VERSION,
                        kind=names.KIND,
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
            if data(current) != {key: value}:
                raise ConcurrentWriterError(
                    f"study journal chunk {self.namespace}/{name} was created by another writer"
                )
            return True

        result = self._write(f"create {name}", request, name, landed)
        return Chunk(
            index=index,
            name=name,
            resource_version=result.metadata.resource_version,
            used=batch.cost,
            batches=1,
        )

    def _check_conflict(
        self, active: Chunk, current: Any, next_sequence: int, ours: dict[str, str]
    ) -> bool:
        """Read back after a 409: True if our write is already there; raise if another writer's
        is; False if only something harmless changed (the caller retries)."""
        batches = self.batches(current)
        known = [(seq, value) for seq, value in batches if seq < next_sequence]
        new = {batch_key(seq): value for seq, value in batches if seq >= next_sequence}
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
        if is_sealed(current) and not active.sealed and ours:
            raise ConcurrentWriterError(
                f"study journal chunk {self.namespace}/{active.name} was sealed by another writer"
            )
        active.resource_version = current.metadata.resource_version
        return bool(new) and new == ours

    # ---- requests -------------------------------------------------------------------------
    def _write(
        self, what: str, request: Callable[[], Any], name: str, landed: Callable[[Any], bool]
    ) -> Any:
        """Send a write; on 409 read chunk ``name`` back and let ``landed`` judge it."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return request()
            except ApiException as error:
                if error.status != 409:
                    self._retry_or_raise(what, attempt, error)
                    continue
                current = self._read(name)
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
        self.sleep(delay)

    def _retried(self) -> None:
        if self.on_retry is not None:
            self.on_retry()
