"""What ``kubetune report SOURCE`` reads: a local run (a manifest, or a run directory) or a
TuningJob on a cluster (``tuningjob/NAME``). Every source is read without writing to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from kubetune.api.errors import SpecError
from kubetune.api.loading import load_tuningjobs
from kubetune.api.spec import TuningJob
from kubetune.report.cluster import (
    ClusterError,
    connect,
    get_tuningjob,
    job_of,
    load_cluster_study,
    tuningjob_name,
)
from kubetune.search.records import trial_record, trial_state
from kubetune.search.space import SearchSpace
from kubetune.search.warm_start import warm_start_count
from kubetune.trials import TrialRecord

DEFAULT_OUTPUT_DIR = Path("kubetune-runs")
RUN_MANIFEST = "tuningjob.yaml"  # the copy of the manifest `kubetune run` keeps in a run dir
STUDY_FILE = "study.journal"


class SourceError(RuntimeError):
    """SOURCE names nothing that can be reported on; the message says what was tried."""


@dataclass
class StudyReport:
    """One TuningJob's study, as a report reads it."""

    job: TuningJob
    study: optuna.Study
    trials: list[TrialRecord]
    origin: str  # where it was read from, for the reader
    status: dict[str, Any] = field(default_factory=dict)  # a cluster TuningJob's status
    objectives: list[str] | None = None  # the metrics of a multi-objective study, in order
    storage: optuna.storages.BaseStorage | None = None  # where the study was read from

    @property
    def objective_names(self) -> list[str]:
        return self.objectives or self.job.spec.objective_metrics


def records(job: TuningJob, study: optuna.Study) -> list[TrialRecord]:
    space = SearchSpace.from_parameters(job.spec.parameters)
    warm = warm_start_count(study.user_attrs)  # the parents' trials come first: not the job's
    found = []
    for trial in study.get_trials(deepcopy=False)[warm:]:
        state = trial_state(trial)
        if state is not None:
            found.append(trial_record(trial, state, space, warm))
    return found


def _journal(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    return optuna.storages.JournalStorage(backend)


def _local(job: TuningJob, storage: optuna.storages.BaseStorage, origin: str) -> StudyReport:
    try:
        study = optuna.load_study(study_name=job.name, storage=storage)
    except KeyError:
        raise SourceError(f"{origin} holds no study named {job.name}; run it first") from None
    return StudyReport(job, study, records(job, study), origin, storage=storage)


def _run_dir_job(run_dir: Path) -> TuningJob:
    manifest = run_dir / RUN_MANIFEST
    if not manifest.is_file():
        raise SourceError(
            f"{run_dir} has no {RUN_MANIFEST} (earlier versions kept none): "
            "give the manifest instead"
        )
    try:
        return load_tuningjobs(manifest)[0]
    except SpecError as error:
        raise SourceError(f"{manifest}: {error}") from None


def local_reports(
    source: Path, output_dir: Path | None = None, storage: str | None = None
) -> list[StudyReport]:
    """The studies of a local run: ``source`` is a run directory (``kubetune-runs/NAME``, with
    its study journal and manifest copy) or a manifest, whose run is looked for under
    ``output_dir`` if given, else under ``./kubetune-runs`` and then beside the manifest."""
    if source.is_dir():
        journal = source / STUDY_FILE
        if not journal.is_file():
            raise SourceError(f"{source} is not a run directory: it has no {STUDY_FILE}")
        job = _run_dir_job(source)
        return [_local(job, _journal(journal), str(journal))]
    try:
        jobs = load_tuningjobs(source)
    except SpecError as error:
        raise SourceError(f"{source} is not a valid TuningJob manifest: {error}") from None
    reports = []
    for job in jobs:
        if storage is not None:
            from kubetune.search.storage import open_storage

            reports.append(_local(job, open_storage(storage), storage))
            continue
        bases = (
            [output_dir] if output_dir else [DEFAULT_OUTPUT_DIR, source.parent / "kubetune-runs"]
        )
        tried = [(base / job.name / STUDY_FILE) for base in bases]
        found = next((path for path in tried if path.is_file()), None)
        if found is None:
            places = ", ".join(str(path) for path in dict.fromkeys(p.resolve() for p in tried))
            raise SourceError(f"no run of {job.name} found (looked for {places}); run it first")
        reports.append(_local(job, _journal(found), str(found)))
    return reports


def cluster_report(
    name: str,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> StudyReport:
    connection = connect(kubeconfig, context, namespace)
    obj = get_tuningjob(connection, name)
    job = job_of(obj)
    study = load_cluster_study(connection, obj)
    origin = f"tuningjob/{name} in namespace {connection.namespace}"
    return StudyReport(job, study, records(job, study), origin, dict(obj.get("status") or {}))


def resolve(
    source: str,
    *,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    output_dir: Path | None = None,
    storage: str | None = None,
) -> list[StudyReport]:
    """Every study SOURCE names. Raises :class:`SourceError` or ``ClusterError``."""
    name = tuningjob_name(source)
    if name is not None and not Path(source).exists():
        return [cluster_report(name, namespace, kubeconfig, context)]
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(
            f"{source}: no such manifest or run directory (a cluster TuningJob is tuningjob/NAME)"
        )
    return local_reports(path, output_dir, storage)


__all__ = ["ClusterError", "SourceError", "StudyReport", "resolve"]
