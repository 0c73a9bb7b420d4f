"""``kubetune run``: a whole tuning run on this machine, driven by the shared Tuner."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubetune.api.spec import TuningJob
from kubetune.controller.model import Completion, TrialRecord
from kubetune.controller.tuner import StepResult, Tuner
from kubetune.metrics.prometheus import local_prometheus_metrics
from kubetune.runtime.local import LocalBackend
from kubetune.search.storage import open_storage
from kubetune.search.study import TuningStudy

# Wake at least this often: the display's clock, maxRuntime and pendingTimeout need it.
TICK_SECONDS = 0.5


@dataclass
class RunPaths:
    """Where a local run keeps its study and its trial logs."""

    root: Path
    storage: str

    @classmethod
    def for_job(cls, job: TuningJob, output_dir: Path, storage: str | None) -> RunPaths:
        root = output_dir / job.name
        return cls(root=root, storage=storage or str(root / "study.journal"))

    @property
    def logs(self) -> Path:
        return self.root / "trials"


@dataclass
class RunReport:
    job: TuningJob
    trials: list[TrialRecord]
    completion: Completion | None
    paths: RunPaths
    elapsed: float
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)


Observer = Callable[[StepResult, LocalBackend], None]


@contextlib.contextmanager
def _ctrl_c_between_steps(wake: threading.Event) -> Iterator[threading.Event]:
    """Turn Ctrl-C into a flag the loop checks between steps.

    A KeyboardInterrupt raised in the middle of a step could leave a suggested trial in the
    study with only some of its parameters stored; deferring it keeps every step whole.
    """
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_sigint(signum: int, frame: object) -> None:
        interrupted.set()
        wake.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def run_local(
    job: TuningJob,
    base_dir: Path,
    paths: RunPaths,
    on_step: Observer | None = None,
    prometheus_url: str | None = None,
) -> RunReport:
    """Tune ``job`` with local processes until a completion rule fires.

    Ctrl-C stops the running trials and returns; finished trials stay in the study and running
    ones are relaunched with the same parameters when the same command runs again.
    ``prometheus_url`` is the default for ``metrics.source: prometheus`` without a URL.
    """
    begun = time.monotonic()
    study = TuningStudy(job, open_storage(paths.storage))
    prometheus = local_prometheus_metrics(job.spec, prometheus_url)
    backend = LocalBackend(job, base_dir=base_dir, log_dir=paths.logs, prometheus=prometheus)
    tuner = Tuner(job, study, backend)
    result = StepResult()
    with _ctrl_c_between_steps(backend.changed) as interrupted:
        while not interrupted.is_set():
            result = tuner.step()
            if on_step is not None:
                on_step(result, backend)
            if result.completion is not None:
                break
            backend.wait_for_change(TICK_SECONDS)
    if interrupted.is_set():
        backend.stop_all()
        return RunReport(
            job, study.records(), None, paths, time.monotonic() - begun, True, backend.notes
        )
    return RunReport(
        job,
        study.records(),
        result.completion,
        paths,
        time.monotonic() - begun,
        notes=backend.notes,
    )
