"""maxRuntime's clock: wall-clock time from the study's creation for the operator, run time over
every run for ``kubetune run`` (``start_run_clock`` / ``save_run_clock``)."""

from __future__ import annotations

import time

import optuna
import pytest
from kubetune.api import parse_tuningjob
from kubetune.api.status import Reason
from kubetune.controller.completion import evaluate_completion
from kubetune.search.study import ATTR_RUN_SECONDS, ATTR_STARTED_AT, TuningStudy

from tests.unit.manifests import manifest

JOB = parse_tuningjob(manifest(name="clock-test", limits={"maxRuntime": "6s"}))


def max_runtime_reached(study: TuningStudy, now: float) -> bool:
    completion = evaluate_completion(JOB.spec, study.records(), study.started_at, now)
    return completion is not None and completion.reason is Reason.MAX_RUNTIME_REACHED


def test_without_a_run_clock_max_runtime_counts_from_the_creation(
    storage: optuna.storages.BaseStorage,
) -> None:
    """The operator's semantics: an outage does not pause a TuningJob."""
    before = time.time()
    created = TuningStudy(JOB, storage).started_at
    assert before <= created <= time.time()

    resumed = TuningStudy(JOB, storage)
    assert resumed.started_at == created
    assert max_runtime_reached(resumed, created + 6)


def test_a_resumed_run_goes_on_from_the_run_time_of_earlier_runs(
    storage: optuna.storages.BaseStorage,
) -> None:
    first = TuningStudy(JOB, storage)
    first.start_run_clock(now=1000.0)
    assert first.started_at == 1000.0
    assert first.save_run_clock(now=1002.5) == 2.5

    # Hours later, the same command again: the time in between does not count.
    second = TuningStudy(JOB, storage)
    assert second.study.user_attrs[ATTR_RUN_SECONDS] == 2.5
    second.start_run_clock(now=9000.0)
    assert second.started_at == 8997.5
    assert not max_runtime_reached(second, 9003.0)  # 5.5 s of run time
    assert max_runtime_reached(second, 9003.5)  # 6 s
    assert second.save_run_clock(now=9004.0) == 6.5

    third = TuningStudy(JOB, storage)
    third.start_run_clock(now=20000.0)
    assert max_runtime_reached(third, 20000.0)  # a run that used up maxRuntime stays finished


def test_the_run_clock_leaves_the_creation_time_alone(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = TuningStudy(JOB, storage)
    created = study.study.user_attrs[ATTR_STARTED_AT]
    study.start_run_clock(now=created + 100)
    study.save_run_clock(now=created + 103)

    assert TuningStudy(JOB, storage).started_at == created  # what the operator would read


def test_saving_needs_a_started_clock(storage: optuna.storages.BaseStorage) -> None:
    with pytest.raises(RuntimeError, match="start_run_clock"):
        TuningStudy(JOB, storage).save_run_clock()
