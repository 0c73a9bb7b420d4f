"""Tuner: the order of side effects that makes a crash at any point lose nothing."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

import pytest
from kubetune.api import TuningJob, parse_tuningjob
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.controller.tuner import Tuner
from kubetune.runtime.kubernetes.journal import open_journal_storage
from kubetune.search.study import TuningStudy
from kubetune.trials import ParamValue, TrialState

from tests.unit.runtime.kubernetes.fake_core import FakeCoreV1Api
from tests.unit.runtime.kubernetes.journal_helpers import tuningjob


class Crash(BaseException):
    """The operator process dies (SIGKILL): nothing after this point runs."""


class Workloads:
    """Trial workloads that stay Pending, as Jobs waiting for a node would."""

    def __init__(self) -> None:
        self.pending_since: dict[int, float] = {}
        self.created: list[int] = []
        self.crash_after_stop = False

    def observe(self, running: Collection[int] = ()) -> Mapping[int, RuntimeTrial]:
        return {
            n: RuntimeTrial(n, Phase.PENDING, pending_since=since)
            for n, since in self.pending_since.items()
        }

    def launch(self, number: int, params: Mapping[str, ParamValue]) -> None:
        self.pending_since[number] = time.time() - 60  # long past the pending timeout
        self.created.append(number)

    def stop(self, number: int) -> None:
        self.pending_since.pop(number, None)
        if self.crash_after_stop:
            raise Crash


@pytest.fixture
def job() -> TuningJob:
    manifest = tuningjob("pending", parallel=1).model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_unset=True
    )
    manifest["spec"]["limits"].update({"pendingTimeout": "1s", "maxTrials": 3})
    return parse_tuningjob(manifest)


def open_study(api: FakeCoreV1Api, job: TuningJob) -> TuningStudy:
    storage = open_journal_storage(api, job.name, "default", "uid-1")
    return TuningStudy(job, storage, flush=storage.flush)


def test_a_crash_right_after_stopping_a_workload_never_relaunches_its_trial(
    job: TuningJob,
) -> None:
    api, workloads = FakeCoreV1Api(), Workloads()
    Tuner(job, open_study(api, job), workloads).step()
    assert workloads.created == [0]

    workloads.crash_after_stop = True  # trial 0's pending timeout fires: stop it, then die
    with pytest.raises(Crash):
        Tuner(job, open_study(api, job), workloads).step()
    assert workloads.pending_since == {}

    restarted = open_study(api, job)
    first = restarted.records()[0]
    assert (first.state, first.reason) == (TrialState.FAILED, "PendingTimeout")  # stored first
    workloads.crash_after_stop = False
    Tuner(job, restarted, workloads).step()
    assert workloads.created.count(0) == 1
    assert workloads.created[1:] == [1]
