"""``kubetune run``: a whole tuning run on this machine, driven by the shared Tuner."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy.exc import SQLAlchemyError

from kubetune.api.spec import TuningJob, WarmStartParent
from kubetune.controller.model import Completion
from kubetune.controller.tuner import StepResult, Tuner
from kubetune.metrics.prometheus import local_prometheus_metrics
from kubetune.runtime.local import LocalBackend
from kubetune.search.storage import open_storage
from kubetune.search.study import TuningStudy
from kubetune.search.warm_start import ParentLoader, ParentNotFound, ParentStudy, read_parent
from kubetune.trials import TrialRecord

# Wake at least this often: the display's clock, maxRuntime and pendingTimeout need it.
TICK_SECONDS = 0.5
# Store the run time this often too, so a run killed outright loses little of it on resume.
SAVE_RUN_TIME_SECONDS = 10.0


class StorageUnavailable(RuntimeError):
    """The study's storage (``--storage``, or the default journal file) cannot be used."""

    def __init__(self, storage: str, reason: str) -> None:
        self.storage = storage
        self.reason = reason
        super().__init__(f"cannot use the study storage {storage}: {reason}")


def _reason(error: BaseException) -> str:
    """What went wrong, in one line: no SQLAlchemy background links, no traceback."""
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return f"not an Optuna journal file ({error})"
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    cause = getattr(error, "orig", None)  # SQLAlchemy wraps the database driver's error
    lines = str(cause if cause is not None else error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _open_study(job: TuningJob, storage: str, parents: ParentLoader | None) -> TuningStudy:
    try:
        opened = open_storage(storage)
    except (SQLAlchemyError, ImportError, OSError, ValueError) as error:
        # ImportError: no driver for the URL's database (optuna says which to install)
        raise StorageUnavailable(storage, _reason(error)) from error
    try:
        return TuningStudy(job, opened, parents=parents)
    except (SQLAlchemyError, OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StorageUnavailable(storage, _reason(error)) from error


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

    @property
    def manifest(self) -> Path:
        """The TuningJob the run tunes, kept so the run directory alone can be reported on."""
        return self.root / "tuningjob.yaml"

    def keep_manifest(self, job: TuningJob) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        document = job.model_dump(mode="json", by_alias=True, exclude_unset=True)
        self.manifest.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def parents(self) -> ParentLoader:
        """Reads a warm-start parent: the study of that name in ``--storage`` if one was
        given, else the run of that name beside this one under ``--output-dir`` (a parent's
        namespace is ignored)."""
        output_dir = self.root.parent
        storage = None if self.storage == str(self.root / "study.journal") else self.storage

        def load(parent: WarmStartParent, metric: str) -> ParentStudy:
            location = storage or str(output_dir / parent.name / "study.journal")
            if storage is None and not Path(location).is_file():
                raise ParentNotFound(f"no run {parent.name!r}: {location} does not exist")
            try:
                opened = open_storage(location)
            except (SQLAlchemyError, ImportError, OSError, ValueError) as error:
                raise ParentNotFound(f"cannot read {location}: {_reason(error)}") from error
            return read_parent(opened, parent.name, parent.name, metric)

        return load


@dataclass
class RunReport:
    job: TuningJob
    trials: list[TrialRecord]
    completion: Completion | None
    paths: RunPaths
    elapsed: float
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    warm_start: dict[str, int] = field(default_factory=dict)  # parent → trials loaded


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

    maxRuntime counts the time runs of the study actually ran: the run time is stored in the
    study when a run ends (and every ``SAVE_RUN_TIME_SECONDS``), and a resumed run goes on from
    it, so the time between an interruption and the resume does not count. Raises
    ``StorageUnavailable`` when the study's storage cannot be opened.
    """
    begun = time.monotonic()
    study = _open_study(job, paths.storage, paths.parents())
    paths.keep_manifest(job)
    study.start_run_clock()
    prometheus = local_prometheus_metrics(job.spec, prometheus_url)
    backend = LocalBackend(job, base_dir=base_dir, log_dir=paths.logs, prometheus=prometheus)
    tuner = Tuner(job, study, backend)
    result = StepResult()
    saved = time.monotonic()
    try:
        with _ctrl_c_between_steps(backend.changed) as interrupted:
            while not interrupted.is_set():
                result = tuner.step()
                if on_step is not None:
                    on_step(result, backend)
                if result.completion is not None:
                    break
                if time.monotonic() - saved >= SAVE_RUN_TIME_SECONDS:
                    study.save_run_clock()
                    saved = time.monotonic()
                backend.wait_for_change(TICK_SECONDS)
        study.save_run_clock()  # the clock stops here, not after the trials are stopped
        if interrupted.is_set():
            backend.stop_all()
    except BaseException:
        backend.stop_all()  # never leave trial processes running behind a failed run
        with contextlib.suppress(Exception):
            study.save_run_clock()
        raise
    return RunReport(
        job,
        study.records(),
        None if interrupted.is_set() else result.completion,
        paths,
        time.monotonic() - begun,
        interrupted.is_set(),
        notes=backend.notes,
        warm_start=study.warm_start_parents(),
    )
