"""Finished trial Jobs do not pile up: once a trial's result is in the study, its Job goes.

Clusters slow down with thousands of completed Jobs (the Job controller and every client that
lists Jobs pay for each one), and a TuningJob of 10,000 trials would leave 10,000 of them. So
the Job of a trial whose result the study holds durably is deleted (Background propagation:
its pods go with it) once ``retention`` has passed since the Job finished. The best trial's Job
is kept by default, so ``kubectl logs job/<bestTrial.jobName>`` keeps working.

Deleting is safe for the tuning loop: a recorded trial is never launched again (the reconcile
core launches only trials the study holds as running), its result is read from the study, not
from the Job, and the status counters come from the study too. Deleting the TuningJob still
removes whatever Jobs remain (they are owned by it).

Operator flags: ``--finished-job-retention DURATION`` (default 10m; 0 deletes at once) and
``--keep-best-job/--no-keep-best-job``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from kubetune.runtime.kubernetes.observe import JobView

log = logging.getLogger(__name__)

NOT_FOUND = 404
DEFAULT_RETENTION_SECONDS = 600.0


@dataclass(frozen=True)
class JobRetention:
    """How long a recorded trial's finished Job is kept, and whether the best one stays."""

    seconds: float = DEFAULT_RETENTION_SECONDS
    keep_best: bool = True


def expired_jobs(
    jobs: Mapping[int, JobView],
    recorded: Collection[int],
    best: int | None,
    retention: JobRetention,
    now: float,
    first_seen: Mapping[int, float],
) -> tuple[list[JobView], float | None]:
    """The Jobs to delete now, and the earliest time another one will be due (or None).

    A Job qualifies when its trial is recorded in the study, the Job has finished (Complete or
    Failed), it is not already being deleted, it is not the best trial's (if kept) and it
    finished ``retention.seconds`` ago. ``first_seen`` stands in for a finish time the Job does
    not carry.
    """
    due: list[JobView] = []
    next_due: float | None = None
    for number, job in jobs.items():
        if job.deleting or job.condition is None or number not in recorded:
            continue
        if retention.keep_best and number == best:
            continue
        finished = job.finished if job.finished is not None else first_seen.get(number, now)
        deadline = finished + retention.seconds
        if deadline <= now:
            due.append(job)
        elif next_due is None or deadline < next_due:
            next_due = deadline
    return due, next_due


class JobCollector:
    """Deletes the expired Jobs of one TuningJob (at most once per Job per operator run)."""

    def __init__(self, batch: Any, namespace: str, retention: JobRetention) -> None:
        self.batch = batch
        self.namespace = namespace
        self.retention = retention
        self._requested: set[str] = set()
        self._first_seen: dict[int, float] = {}
        self.deleted = 0

    def collect(
        self,
        jobs: Mapping[int, JobView],
        recorded: Collection[int],
        best: int | None,
        now: float,
    ) -> float | None:
        """Delete what is due; returns when the next Job will be due (epoch seconds) or None.

        Call it only once the study's records are durable (after the step's flush).
        """
        for number, job in jobs.items():
            if job.condition is not None and job.finished is None:
                self._first_seen.setdefault(number, now)
        due, next_due = expired_jobs(jobs, recorded, best, self.retention, now, self._first_seen)
        for job in due:
            if job.name in self._requested:
                continue
            try:
                self.batch.delete_namespaced_job(
                    job.name, self.namespace, propagation_policy="Background"
                )
            except ApiException as error:
                if error.status != NOT_FOUND:
                    log.warning(
                        "could not delete finished trial Job %s/%s: %s %s; will retry",
                        self.namespace,
                        job.name,
                        error.status,
                        error.reason,
                    )
                    continue
            self._requested.add(job.name)
            self._first_seen.pop(job.trial, None)
            self.deleted += 1
            log.debug("deleted finished trial Job %s/%s", self.namespace, job.name)
        return next_due
