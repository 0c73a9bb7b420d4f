"""One trial, one series: the local runner (its log followed as it grows, then read whole) and
a cluster (the pod log followed while it runs, then read whole when it finished) record the
same steps, values and objective for the same output, progress bars among it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES, MetricSeries
from kubetune.runtime.kubernetes.backend import KubernetesBackend
from kubetune.runtime.kubernetes.follow import LogFollower
from kubetune.runtime.local import LocalBackend, _LocalTrial, _LogFollower

from tests.unit.manifests import job, manifest

LINES = 5 * MAX_INTERMEDIATE_VALUES  # past the cap: the curves are downsampled
LOG = (
    b"starting\n"
    # one progress bar per line, redrawn: each line is its last redraw
    + b"".join(
        b"\r  0%%|bar| loss=9\r100%%|bar| step=%d loss=%.6f\n" % (i, 1 + 1 / (i + 1))
        for i in range(LINES)
    )
    + b"".join(b'{"loss": %d, "accuracy": 0.%d}\r\n' % (i, i) for i in range(1, 9))
    + "caf\u00e9 loss=0.5\r".encode()  # redrawn by the next: not a report
    + b"loss=0.25 accuracy=0.75\n"
)
JOB = job(manifest(objective={"additionalMetrics": ["accuracy"]}))


class _Response:
    """A pods/log response streamed in chunks of the size asked for."""

    def stream(self, size: int) -> Iterator[bytes]:
        for start in range(0, len(LOG), size):
            yield LOG[start : start + size]

    def release_conn(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class _Core:
    def read_namespaced_pod_log(self, *args: Any, **kwargs: Any) -> _Response:
        return _Response()


def followed_locally(path: Path) -> MetricSeries:
    """The local runner's view while the trial runs: the file read as it grows."""
    follower = _LogFollower(JOB, path)
    with path.open("wb") as output:
        for start in range(0, len(LOG), 10_007):  # writes that end anywhere
            output.write(LOG[start : start + 10_007])
            output.flush()
            follower.poll()
    while follower.offset < len(LOG):
        follower.poll()
    return follower.parser.series


def read_locally(path: Path, tmp_path: Path) -> MetricSeries:
    """The local runner's record of the finished trial: the whole log read once more."""
    backend = LocalBackend(JOB, tmp_path, tmp_path / "logs")
    result = backend._result(_LocalTrial(0, [], path, time.time()), None)
    assert result.metrics is not None
    return result.metrics


def followed_on_a_cluster() -> MetricSeries:
    follower = LogFollower(_Core(), "default", "tune-0-abc", "train", JOB.spec)  # type: ignore[arg-type]
    deadline = time.monotonic() + 30
    while follower.alive:
        assert time.monotonic() < deadline, "the follower did not reach the end of the log"
        time.sleep(0.01)
    return follower.series()


def read_on_a_cluster() -> MetricSeries:
    backend = KubernetesBackend(JOB, "default", "uid", None, _Core(), None)  # type: ignore[arg-type]
    return backend._read_metrics("tune-0-abc")


def test_every_log_path_records_the_same_series(tmp_path: Path) -> None:
    path = tmp_path / "trial.log"
    local_live = followed_locally(path)
    series = [
        local_live,
        read_locally(path, tmp_path),
        followed_on_a_cluster(),
        read_on_a_cluster(),
    ]
    assert all(s == local_live for s in series)
    assert local_live.count("loss") == LINES + 9
    assert local_live.reduce("loss", "last") == 0.25
    assert local_live.reduce("loss", "min") == 0.25
    assert local_live.reduce("loss", "max") == 8.0
    assert local_live.latest("accuracy") == 0.75
    curve = local_live.observations("loss")
    assert len(curve) <= MAX_INTERMEDIATE_VALUES + 1
    assert (curve[0].step, curve[0].value) == (0, 2.0)
    assert (curve[-1].step, curve[-1].value) == (LINES + 8, 0.25)  # counted on from the bars
