"""Exactly one active operator: leader election on a ``coordination.k8s.io/v1`` Lease.

Every study has a single writer (the journal detects a second one, but cannot make it stop), so
each operator process first takes a Lease and only then starts handling TuningJobs; the others
wait as standbys. The algorithm is client-go's ``leaderelection`` package, which every
Kubernetes controller manager uses, with its defaults:

* A candidate takes the Lease when it has no holder, or when the holder's record (holder,
  ``renewTime``, ``resourceVersion``) has not changed for ``leaseDurationSeconds`` **as
  measured on the candidate's own clock** since it first saw that record: no comparison of
  clocks across machines.
* Every write is a PUT carrying the ``resourceVersion`` read: of two candidates racing for a
  free Lease, one gets 409 Conflict and goes on waiting.
* The leader renews every ``retry_period``; if it has not renewed for ``renew_deadline``
  (shorter than the lease duration) it stops writing at once by ending the process, before any
  standby may consider the Lease expired. A standby therefore takes over about
  ``lease_duration`` after the leader's last renewal: ~15 s with the defaults.
* A leader that stops cleanly releases the Lease (empty holder), so a standby takes over
  within ``retry_period``.

Why not kopf's peering: it keeps its own ``KopfPeering`` custom resources rather than a Lease,
pauses by priority (two operators of equal priority both keep running, with a warning), and
pauses handlers when the next event arrives rather than guaranteeing that a replaced operator
has stopped writing before another starts.

The elector runs in its own thread with its own API connection, so a busy or blocked event loop
cannot delay a renewal or the step-down.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

log = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "kubetune-operator"
LEASE_DURATION_SECONDS = 15
RENEW_DEADLINE_SECONDS = 10.0
RETRY_PERIOD_SECONDS = 2.0
# The process exits with this code when it loses the Lease; its pod restarts as a standby.
LOST_LEASE_EXIT_CODE = 75


@dataclass(frozen=True)
class LeaseTiming:
    lease_duration: int = LEASE_DURATION_SECONDS
    renew_deadline: float = RENEW_DEADLINE_SECONDS
    retry_period: float = RETRY_PERIOD_SECONDS

    def __post_init__(self) -> None:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")


def default_identity() -> str:
    """$POD_NAME (the chart sets it): a container restarted in the same pod takes its Lease
    back at once, since the process that held it is gone. Elsewhere the hostname plus a random
    suffix, so that two processes on one laptop never share an identity."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def micro_time(epoch: float) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class _Observed:
    """The Lease as last read, and when (on our monotonic clock) its record last changed."""

    holder: str | None
    record: tuple[Any, ...]
    resource_version: str | None
    lease_duration: int
    changed_at: float
    transitions: int


class LeaderElector:
    """Acquire and hold one Lease. ``wait_until_leader()`` blocks; ``on_lost`` is called
    (from the elector's thread) when leadership ends other than by ``release()``; by default
    it ends the process."""

    def __init__(
        self,
        api: Any,  # kubernetes.client.CoordinationV1Api
        namespace: str,
        name: str = DEFAULT_LEASE_NAME,
        identity: str | None = None,
        timing: LeaseTiming = LeaseTiming(),
        on_lost: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.timing = timing
        self.on_lost = on_lost or _exit_process
        self._clock = clock
        self._wall_clock = wall_clock
        self._observed: _Observed | None = None
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._last_renewal = 0.0
        self._thread: threading.Thread | None = None
        # A hung connection must not outlast the renew deadline.
        self._request_timeout = timing.renew_deadline / 2

    # ---- public ------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()
        return self

    def wait_until_leader(self, timeout: float | None = None) -> bool:
        return self._leading.wait(timeout)

    def release(self) -> None:
        """Stop renewing and hand the Lease over at once (a clean shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timing.retry_period + 5)
        if self._leading.is_set():
            self._leading.clear()
            try:
                self._write(self._release_spec)
                log.info("released Lease %s/%s", self.namespace, self.name)
            except (ApiException, HTTPError, OSError) as error:
                log.warning("could not release Lease %s/%s: %s", self.namespace, self.name, error)

    # ---- the loop ------------------------------------------------------------------------
    def _run(self) -> None:
        log.info("waiting to lead: Lease %s/%s as %s", self.namespace, self.name, self.identity)
        while not self._stop.is_set():
            began = self._clock()
            try:
                held = self._try_acquire_or_renew()
            except (ApiException, HTTPError, OSError, ValueError) as error:
                log.warning("Lease %s/%s: %s", self.namespace, self.name, _describe(error))
                held = False
            if held:
                self._last_renewal = began
                if not self._leading.is_set():
                    log.info("leading: Lease %s/%s as %s", self.namespace, self.name, self.identity)
                    self._leading.set()
            elif self._leading.is_set() and self._clock() - self._last_renewal >= (
                self.timing.renew_deadline
            ):
                self._leading.clear()
                self.on_lost(
                    f"could not renew Lease {self.namespace}/{self.name} within "
                    f"{self.timing.renew_deadline:.0f}s"
                )
                return
            elif self._leading.is_set() and not self._still_ours():
                self._leading.clear()
                self.on_lost(f"Lease {self.namespace}/{self.name} was taken by another holder")
                return
            self._stop.wait(max(0.0, self.timing.retry_period - (self._clock() - began)))

    def _still_ours(self) -> bool:
        return self._observed is None or self._observed.holder == self.identity

    def _try_acquire_or_renew(self) -> bool:
        try:
            lease = self.api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._request_timeout
            )
        except ApiException as error:
            if error.status != 404:
                raise
            return self._create()
        self._observe(lease)
        observed = self._observed
        assert observed is not None
        now = self._clock()
        free = not observed.holder
        expired = now >= observed.changed_at + observed.lease_duration
        if observed.holder != self.identity and not (free or expired):
            return False
        if self._leading.is_set() and observed.holder != self.identity:
            return False  # it was ours and someone took it: never take it back silently
        try:
            self._write(self._held_spec)
        except ApiException as error:
            if error.status == 409:  # someone else wrote first: read again next time
                return False
            raise
        return True

    def _create(self) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._held_spec(None),
        }
        try:
            lease = self.api.create_namespaced_lease(
                self.namespace, body, _request_timeout=self._request_timeout
            )
        except ApiException as error:
            if error.status == 409:  # AlreadyExists: another candidate created it first
                return False
            raise
        self._observe(lease)
        return True

    def _held_spec(self, observed: _Observed | None) -> dict[str, Any]:
        now = micro_time(self._wall_clock())
        ours = observed is not None and observed.holder == self.identity
        transitions = 0 if observed is None else observed.transitions + (0 if ours else 1)
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.timing.lease_duration,
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        if not ours:
            spec["acquireTime"] = now
        return spec

    def _release_spec(self, observed: _Observed | None) -> dict[str, Any]:
        # As client-go's ReleaseOnCancel: no holder, and a one-second duration.
        return {
            "holderIdentity": None,
            "leaseDurationSeconds": 1,
            "renewTime": micro_time(self._wall_clock()),
            "leaseTransitions": 0 if observed is None else observed.transitions,
        }

    def _write(self, spec_of: Callable[[_Observed | None], dict[str, Any]]) -> None:
        observed = self._observed
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": None if observed is None else observed.resource_version,
            },
            "spec": spec_of(observed),
        }
        lease = self.api.replace_namespaced_lease(
            self.name, self.namespace, body, _request_timeout=self._request_timeout
        )
        self._observe(lease)

    def _observe(self, lease: Any) -> None:
        spec = lease.spec
        holder = spec.holder_identity if spec is not None else None
        renew = spec.renew_time if spec is not None else None
        duration = (spec.lease_duration_seconds if spec is not None else None) or (
            self.timing.lease_duration
        )
        transitions = (spec.lease_transitions if spec is not None else None) or 0
        version = lease.metadata.resource_version
        record = (holder, renew, version)
        previous = self._observed
        changed_at = (
            previous.changed_at
            if previous is not None and previous.record == record
            else self._clock()
        )
        self._observed = _Observed(holder, record, version, duration, changed_at, transitions)


def _exit_process(reason: str) -> None:
    """Stop writing now: every thread of the process, mid-request or not. A graceful shutdown
    could take kopf's daemon cancellation timeout, longer than a standby waits."""
    log.critical("leadership lost (%s): exiting so that only the new leader writes", reason)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(LOST_LEASE_EXIT_CODE)


def _describe(error: BaseException) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"
