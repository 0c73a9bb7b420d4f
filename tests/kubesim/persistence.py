"""kubesim's etcd: the store on disk in the state directory, so a restart keeps the cluster.

Layout of ``<state-dir>/store/``:

* ``snapshot.jsonl``: a header line ``{"resourceVersion": N}``, then one ``[group, plural,
  object]`` line per object, as of resourceVersion N;
* ``log.jsonl``: one line per write since the snapshot, ``{"rv", "g", "r", "obj"}`` for a
  create or update, ``{"rv", "g", "r", "ns", "name", "deleted": true}`` for a removal;
* ``signing.key``: the key TokenRequest tokens are signed with (a control plane's ``sa.key``),
  so ServiceAccount tokens stay valid across restarts as they do on a real cluster.

Durability: each write is appended to the log with one ``os.write`` on an ``O_APPEND``
descriptor from the store's listener, which runs before the API answers the request. Once
``write`` returns the bytes belong to the kernel's page cache, so a SIGKILL after an
acknowledged write loses nothing; a power cut could (no fsync, like etcd's
``--unsafe-no-fsync``). Tests kill processes, never machines, and an fsync per write would add
milliseconds to every request on a disk shared by parallel test workers.

Compaction: on start and whenever the log passes :data:`LOG_LIMIT_BYTES`, the whole store is
written as a new snapshot (temporary file, then an atomic rename) and the log is truncated. A
crash between the two leaves log lines the snapshot already covers; loading skips them by
resourceVersion. A torn last line (killed mid-append: its write was never acknowledged) is
ignored.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .resources import GroupResource
from .store import Event, Store

log = logging.getLogger(__name__)

LOG_LIMIT_BYTES = 64 * 1024 * 1024
SNAPSHOT = "snapshot.jsonl"
LOG = "log.jsonl"
SIGNING_KEY = "signing.key"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _lines(path: Path) -> Iterator[Any]:
    """Decoded JSON lines; stops at a torn or unreadable last line (never acknowledged)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for number, line in enumerate(handle, 1):
            try:
                yield json.loads(line)
            except ValueError:
                log.warning("%s: line %d is torn; ignoring it and what follows", path, number)
                return


class Persistence:
    """The store's snapshot and write log under one directory."""

    def __init__(self, directory: Path, log_limit_bytes: int = LOG_LIMIT_BYTES) -> None:
        self.directory = directory
        self.log_limit_bytes = log_limit_bytes
        self._fd: int | None = None
        self._log_bytes = 0
        self._store: Store | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def signing_key(self) -> bytes:
        """The token signing key, created on first use and kept for every later start."""
        path = self.directory / SIGNING_KEY
        try:
            return path.read_bytes()
        except FileNotFoundError:
            key = secrets.token_bytes(32)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(key)
            tmp.chmod(0o600)
            os.replace(tmp, path)
            return key

    # ---- loading -----------------------------------------------------------------------------
    def load(self, store: Store) -> bool:
        """Fill an empty ``store`` from disk; False if there was nothing to load."""
        snapshot_rv = 0
        found = False
        for number, line in enumerate(_lines(self.directory / SNAPSHOT)):
            found = True
            if number == 0:
                snapshot_rv = int(line["resourceVersion"])
            else:
                group, plural, obj = line
                store.restore((group, plural), obj)
        last = snapshot_rv
        for record in _lines(self.directory / LOG):
            found = True
            rv = int(record["rv"])
            if rv <= snapshot_rv:
                continue  # the snapshot was written, then the crash came before the truncation
            gr = (record["g"], record["r"])
            if record.get("deleted"):
                store.forget(gr, record["ns"], record["name"])
            else:
                store.restore(gr, record["obj"])
            last = max(last, rv)
        if found:
            store.resume_at(last)
            log.info("loaded the store from %s at resourceVersion %d", self.directory, last)
        return found

    # ---- writing -----------------------------------------------------------------------------
    def attach(self, store: Store) -> None:
        """Compact what is on disk into a snapshot of ``store``, then log its every write."""
        self._store = store
        self.snapshot()
        store.listeners.append(self._on_event)

    def snapshot(self) -> None:
        store = self._store
        assert store is not None
        path = self.directory / SNAPSHOT
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(_dumps({"resourceVersion": store.rv}))
            for group, plural in store.resources():
                for obj in store.iter((group, plural)):
                    handle.write(_dumps([group, plural, obj]))
        os.replace(tmp, path)
        if self._fd is not None:
            os.close(self._fd)
        # O_TRUNC only after the rename: until then the old snapshot and log are the state.
        self._fd = os.open(
            self.directory / LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600
        )
        self._log_bytes = 0

    def _on_event(self, gr: GroupResource, event: Event) -> None:
        if self._fd is None:
            return
        group, plural = gr
        if event.type == "DELETED":
            m = event.obj["metadata"]
            record = {
                "rv": event.rv,
                "g": group,
                "r": plural,
                "ns": m.get("namespace", ""),
                "name": m["name"],
                "deleted": True,
            }
        else:
            record = {"rv": event.rv, "g": group, "r": plural, "obj": event.obj}
        data = _dumps(record)
        written = os.write(self._fd, data)
        if written != len(data):  # a regular file only writes short when the disk is full
            raise OSError(f"kubesim store: short write to {self.directory / LOG}")
        self._log_bytes += written
        if self._log_bytes > self.log_limit_bytes:
            self.snapshot()

    def close(self) -> None:
        """Stop logging (the in-process restart drops this store for one read from disk)."""
        if self._store is not None and self._on_event in self._store.listeners:
            self._store.listeners.remove(self._on_event)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
