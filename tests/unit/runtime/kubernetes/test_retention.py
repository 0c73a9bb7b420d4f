"""Which finished trial Jobs are deleted, and when."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from kubetune.runtime.kubernetes.observe import JobView
from kubetune.runtime.kubernetes.retention import JobCollector, JobRetention, expired_jobs


def job(number: int, condition: str | None = "Complete", finished: float | None = 100.0,
        deleting: bool = False) -> JobView:  # fmt: skip
    return JobView(f"tj-{number}", number, 0.0, condition, deleting=deleting, finished=finished)


JOBS = {
    0: job(0),
    1: job(1, finished=150.0),
    2: job(2, condition="Failed"),
    3: job(3, condition=None, finished=None),  # still running
    4: job(4, deleting=True),
    5: job(5),  # finished but its result is not recorded yet
}
RECORDED = {0, 1, 2, 3, 4}


def names(jobs: list[JobView]) -> list[str]:
    return sorted(j.name for j in jobs)


def test_recorded_finished_jobs_past_retention_go_except_the_best() -> None:
    due, next_due = expired_jobs(JOBS, RECORDED, 0, JobRetention(60.0), now=170.0, first_seen={})
    assert names(due) == ["tj-2"]  # 0 is the best; 1 finished 20 s ago; 3 runs; 4 is going
    assert next_due == 210.0  # when tj-1's retention ends


def test_zero_retention_and_no_best_kept() -> None:
    retention = JobRetention(0.0, keep_best=False)
    due, next_due = expired_jobs(JOBS, RECORDED, 0, retention, now=150.0, first_seen={})
    assert names(due) == ["tj-0", "tj-1", "tj-2"]
    assert next_due is None


def test_a_job_without_a_finish_time_counts_from_when_it_was_first_seen() -> None:
    jobs = {7: job(7, finished=None)}
    due, next_due = expired_jobs(jobs, {7}, None, JobRetention(30.0), 100.0, {7: 90.0})
    assert (due, next_due) == ([], 120.0)


class Batch:
    def __init__(self, status: int | None = None) -> None:
        self.deleted: list[tuple[str, str, Any]] = []
        self.status = status

    def delete_namespaced_job(self, name: str, namespace: str, propagation_policy: str) -> None:
        if self.status is not None:
            raise ApiException(status=self.status, reason="nope")
        self.deleted.append((name, namespace, propagation_policy))


def test_the_collector_deletes_each_job_once_in_the_background() -> None:
    batch = Batch()
    collector = JobCollector(batch, "ml", JobRetention(0.0))
    collector.collect(JOBS, RECORDED, 0, now=200.0)
    collector.collect(JOBS, RECORDED, 0, now=201.0)  # the watch has not seen them go yet
    assert batch.deleted == [("tj-1", "ml", "Background"), ("tj-2", "ml", "Background")]
    assert collector.deleted == 2


@pytest.mark.parametrize(("status", "deleted"), [(404, 2), (500, 0)])
def test_gone_counts_as_deleted_and_errors_are_retried(status: int, deleted: int) -> None:
    collector = JobCollector(Batch(status), "ml", JobRetention(0.0))
    collector.collect(JOBS, RECORDED, 0, now=200.0)
    assert collector.deleted == deleted
