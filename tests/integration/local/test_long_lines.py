"""A trial that prints a huge line: its metrics are still read, in bounded memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubetune.api import load_tuningjobs
from kubetune.api.status import ConditionType
from kubetune.metrics.series import MetricSeries
from kubetune.runtime.local import _LogFollower
from kubetune.runtime.runner import RunPaths, run_local
from kubetune.trials import TrialState

from .conftest import ManifestWriter

LINE_MB = 50


@pytest.fixture
def traced() -> Iterator[None]:
    """Python's allocations are traced during the test (``tracemalloc``)."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_a_50_mb_line_then_the_metric_completes_the_trial(
    write_manifest: ManifestWriter, tmp_path: Path, traced: None
) -> None:
    path = write_manifest(mode="long-line", max_trials=1, parallel=1)
    (job,) = load_tuningjobs(path)
    tracemalloc.reset_peak()

    report = run_local(job, base_dir=path.parent, paths=RunPaths.for_job(job, tmp_path, None))

    _, peak = tracemalloc.get_traced_memory()
    assert report.completion is not None
    assert report.completion.type is ConditionType.COMPLETE
    [trial] = report.trials
    assert trial.state is TrialState.COMPLETE
    assert trial.objective == 0.5
    log = report.paths.logs / "local-test-0.log"
    assert log.stat().st_size > LINE_MB * 1024 * 1024  # the line was printed whole
    assert peak < 20 * 1024 * 1024  # nowhere near the line's size


def read_all(follower: _LogFollower) -> MetricSeries:
    """Look at the log as the runner does, once per step (each look reads for at most 0.1 s,
    less than 50 MiB on a loaded machine), until all of it was read."""
    deadline = time.monotonic() + 60
    series = follower.poll()
    while follower.offset < follower.path.stat().st_size:
        assert time.monotonic() < deadline, "the log was not read to its end"
        series = follower.poll()
    return series


def test_following_a_log_keeps_only_the_start_of_a_huge_line(
    write_manifest: ManifestWriter, tmp_path: Path, traced: None
) -> None:
    (job,) = load_tuningjobs(write_manifest())
    log = tmp_path / "trial.log"
    chunk = b"x" * (1024 * 1024)
    with log.open("wb") as output:
        output.write(b"step=0 loss=0.75\n")
        for _ in range(LINE_MB):
            output.write(chunk)
    del chunk
    follower = _LogFollower(job, log)
    tracemalloc.reset_peak()

    series = read_all(follower)  # the huge line is not over yet: it waits for its end
    _, peak = tracemalloc.get_traced_memory()
    assert [(o.step, o.value) for o in series.observations("loss")] == [(0, 0.75)]
    assert peak < 4 * 1024 * 1024

    with log.open("ab") as output:
        output.write(b" loss=0.6\nstep=2 loss=0.5\n")
    series = read_all(follower)
    assert [(o.step, o.value) for o in series.observations("loss")] == [(0, 0.75), (2, 0.5)]
