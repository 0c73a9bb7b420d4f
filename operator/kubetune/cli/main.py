"""The ``kubetune`` command: run, validate, render, report."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.markup import escape

from kubetune.api import SpecError, TuningJob, load_tuningjobs
from kubetune.api.duration import DURATION_PATTERN, parse_duration
from kubetune.api.status import ConditionType
from kubetune.cli import clone_command, dashboard_command, report_command
from kubetune.controller.template import primary_container_index, render_trial_job
from kubetune.metrics.prometheus import ENV_URL as ENV_PROMETHEUS_URL
from kubetune.metrics.prometheus import PrometheusNotConfigured
from kubetune.search.samplers import SamplerUnavailable
from kubetune.search.space import SearchSpace
from kubetune.search.study import SearchSpaceChanged
from kubetune.trials import ParamValue

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


def _load(path: Path) -> list[TuningJob]:
    try:
        return load_tuningjobs(path)
    except SpecError as error:
        errors.print(f"[red]{path} is not a valid TuningJob:[/red]")
        for item in error.errors:
            errors.print(f"  {item}", markup=False, soft_wrap=True)
        sys.exit(EXIT_INVALID)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kubetune")
def cli() -> None:
    """Kubernetes-native hyperparameter tuning: the TuningJob tool."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check TuningJob manifests (multi-document YAML allowed); exit 2 on any error."""
    failed = False
    for path in files:
        try:
            jobs = load_tuningjobs(path)
        except SpecError as error:
            failed = True
            for item in error.errors:
                errors.print(f"{path}: {item}", markup=False, soft_wrap=True)
            continue
        for job in jobs:
            console.print(f"{path}: TuningJob {job.name} is valid", markup=False, soft_wrap=True)
    if failed:
        sys.exit(EXIT_INVALID)


def _default_params(job: TuningJob) -> dict[str, ParamValue]:
    """A representative point: the middle of each range, the first of each category list."""
    params: dict[str, ParamValue] = {}
    for parameter in job.spec.parameters:
        if parameter.type == "categorical":
            params[parameter.name] = (parameter.values or [""])[0]
            continue
        low, high = float(parameter.min or 0), float(parameter.max or 0)
        middle = (low * high) ** 0.5 if parameter.scale == "log" else (low + high) / 2
        params[parameter.name] = round(middle) if parameter.type == "int" else middle
    return params


def _parse_param(job: TuningJob, text: str) -> tuple[str, ParamValue]:
    name, _, raw = text.partition("=")
    parameter = next((p for p in job.spec.parameters if p.name == name), None)
    if parameter is None or not _:
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE with a parameter of {job.name}")
    loaded = yaml.safe_load(raw)
    if parameter.type == "int":
        return name, int(loaded)
    if parameter.type == "float":
        return name, float(loaded)
    return name, loaded if isinstance(loaded, str | int | float | bool) else raw


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--trial", "number", default=0, show_default=True, help="Trial number to render.")
@click.option("--param", "params", multiple=True, help="NAME=VALUE (default: mid-range values).")
@click.option("--namespace", default=None, help="Namespace to put on the Job.")
def render(file: Path, number: int, params: tuple[str, ...], namespace: str | None) -> None:
    """Print the batch/v1 Job a trial of each TuningJob in FILE would run as."""
    documents: list[dict[str, Any]] = []
    for job in _load(file):
        values = _default_params(job)
        values.update(_parse_param(job, text) for text in params)
        if namespace:
            job = job.model_copy(
                update={"metadata": job.metadata.model_copy(update={"namespace": namespace})}
            )
        documents.append(render_trial_job(job, number, values))
    click.echo(yaml.safe_dump_all(documents, sort_keys=False), nl=False)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--storage",
    default=None,
    help="Optuna storage URL (default: a journal file under --output-dir).",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=Path("kubetune-runs"),
    show_default=True,
    help="Where studies and trial logs go.",
)
@click.option(
    "--prometheus-url",
    envvar="KUBETUNE_PROMETHEUS_URL",
    default=None,
    help="Prometheus for metrics.source prometheus without a url (env KUBETUNE_PROMETHEUS_URL).",
)
def run(file: Path, storage: str | None, output_dir: Path, prometheus_url: str | None) -> None:
    """Tune every TuningJob in FILE with trials as local processes (no cluster needed).

    Re-running the same command resumes the study; Ctrl-C stops running trials and keeps the
    finished ones.
    """
    from kubetune.cli.display import LiveProgress, print_report
    from kubetune.runtime.runner import RunPaths, StorageUnavailable, run_local

    code = 0
    for job in _load(file):
        paths = RunPaths.for_job(job, output_dir, storage)
        announced = _announce(job, paths.storage, file.resolve().parent)
        try:
            with LiveProgress(console, job) as progress:
                report = run_local(
                    job,
                    base_dir=file.resolve().parent,
                    paths=paths,
                    on_step=progress,
                    prometheus_url=prometheus_url,
                )
        except (SearchSpaceChanged, SamplerUnavailable, PrometheusNotConfigured) as error:
            errors.print(f"[red]{job.name}:[/red] {error}")
            sys.exit(EXIT_INVALID)
        except SpecError as error:  # a warm start whose parents cannot be used
            errors.print(f"[red]{job.name} cannot start:[/red]")
            for item in error.errors:
                errors.print(f"  {item}", markup=False, soft_wrap=True)
            sys.exit(EXIT_INVALID)
        except StorageUnavailable as error:
            what = f"--storage {storage}" if storage else f"the study journal {paths.storage}"
            message = escape(f"cannot use {what}: {error.reason}")
            errors.print(f"[red]{job.name}:[/red] {message}", soft_wrap=True)
            sys.exit(EXIT_INVALID)
        for note in report.notes:
            if note not in announced:  # only what the first trial could not tell
                console.print(f"[yellow]note:[/yellow] not available locally, ignored: {note}")
        print_report(console, report)
        if report.interrupted:
            sys.exit(EXIT_INTERRUPTED)
        if report.completion is None or report.completion.type is not ConditionType.COMPLETE:
            code = EXIT_FAILED
    sys.exit(code)


def _ignored_locally(job: TuningJob, base_dir: Path) -> list[str]:
    """The trial template's fields a local process cannot honour (env valueFrom, envFrom, a
    workingDir not on this machine), known before any trial starts."""
    from kubetune.runtime.local import local_command

    rendered = render_trial_job(job, 0, _default_params(job))
    try:
        return list(local_command(job, rendered, base_dir).ignored)
    except ValueError:  # no command: the first trial fails and says why
        return []


def _announce(job: TuningJob, storage: str, base_dir: Path) -> list[str]:
    """What the run will do, and the notes about ignored template fields; returns the notes."""
    spec = job.spec
    strategy = spec.strategy.algorithm
    seed = f", seed {spec.strategy.seed}" if spec.strategy.seed is not None else ""
    containers = spec.trial_template.spec["template"]["spec"]["containers"]
    container = containers[primary_container_index(job)]
    console.print(
        f"[bold]Tuning {job.name}[/bold]: {spec.objective_summary}, "
        f"strategy {strategy}{seed}, {spec.limits.parallel_trials} trial(s) at a time"
    )
    image = container.get("image", "(none)")
    console.print(
        f"Trials run as local processes: container {container.get('name')!r} runs its command "
        f"here and its image {image} is ignored."
    )
    console.print(f"Study: {storage}")
    ignored = _ignored_locally(job, base_dir)
    for note in ignored:
        console.print(f"[yellow]note:[/yellow] not available locally, ignored: {note}")
    return ignored


@cli.command()
@click.option(
    "--output",
    "-o",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format.",
)
def crd(output: str) -> None:
    """Print the TuningJob CustomResourceDefinition: kubetune crd | kubectl apply -f -"""
    from kubetune.api.crd import render_crd

    click.echo(render_crd(output), nl=False)


def _retention_seconds(text: str) -> float:
    """--finished-job-retention in seconds: ``0`` or any zero duration (``0s``, ``0m``, ``0h0m``)
    is 0, delete at once; otherwise a duration longer than zero (``parse_duration``)."""
    if text == "0" or (re.fullmatch(DURATION_PATTERN, text) and not re.search("[1-9]", text)):
        return 0.0
    return parse_duration(text, bounded=False)


@cli.command()
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    envvar="KUBETUNE_NAMESPACES",
    help="Watch only this namespace (repeatable; env KUBETUNE_NAMESPACES, space-separated). "
    "Default: all namespaces.",
)
@click.option(
    "--kubeconfig", default=None, help="Kubeconfig file (default: in-cluster or $KUBECONFIG)."
)
@click.option(
    "--health-port",
    default=8080,
    show_default=True,
    help="Port of /healthz, /readyz and the operator's /metrics.",
)
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines as plain text or JSON objects (the Helm chart sets json).",
)
@click.option("--verbose", is_flag=True, help="Debug logging.")
@click.option(
    "--finished-job-retention",
    default="10m",
    show_default=True,
    envvar="KUBETUNE_FINISHED_JOB_RETENTION",
    help="Delete a trial's finished Job this long after it ended, once its result is recorded "
    "(90s, 10m, 2h; 0 or 0s = at once; 'never' keeps them). Env KUBETUNE_FINISHED_JOB_RETENTION.",
)
@click.option(
    "--keep-best-job/--no-keep-best-job",
    default=True,
    show_default=True,
    envvar="KUBETUNE_KEEP_BEST_JOB",
    help="Never delete the best trial's Job. Env KUBETUNE_KEEP_BEST_JOB (true/false).",
)
@click.option(
    "--prometheus-url",
    envvar="KUBETUNE_PROMETHEUS_URL",
    default=None,
    help="Prometheus for metrics.source prometheus without a url (env KUBETUNE_PROMETHEUS_URL).",
)
@click.option(
    "--leader-election/--no-leader-election",
    default=True,
    show_default=True,
    envvar="KUBETUNE_LEADER_ELECTION",
    help="Take the Lease before handling TuningJobs; other operators wait as standbys "
    "(docs/operations.md). Off only when you are sure a single operator runs.",
)
@click.option(
    "--lease-name", default="kubetune-operator", show_default=True, help="Name of the Lease."
)
@click.option(
    "--lease-namespace",
    default=None,
    envvar="POD_NAMESPACE",
    help="Namespace of the Lease (default: env POD_NAMESPACE, the pod's own namespace, else "
    "the kubeconfig context's).",
)
def operator(
    namespaces: tuple[str, ...],
    kubeconfig: str | None,
    health_port: int,
    log_format: str,
    verbose: bool,
    finished_job_retention: str,
    keep_best_job: bool,
    prometheus_url: str | None,
    leader_election: bool,
    lease_name: str,
    lease_namespace: str | None,
) -> None:
    """Run the TuningJob operator against the current cluster."""
    if prometheus_url:  # the default for TuningJobs whose spec.metrics.prometheus has no url
        os.environ[ENV_PROMETHEUS_URL] = prometheus_url
    from kubetune.operator.run import LeaseOptions, run_operator
    from kubetune.runtime.kubernetes.retention import JobRetention

    retention: JobRetention | None = None
    if finished_job_retention != "never":
        try:
            seconds = _retention_seconds(finished_job_retention)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--finished-job-retention") from None
        retention = JobRetention(seconds, keep_best_job)
    lease = LeaseOptions(lease_name, lease_namespace) if leader_election else None
    run_operator(namespaces, health_port, kubeconfig, log_format, verbose, retention, lease)


cli.add_command(report_command.report)
cli.add_command(dashboard_command.dashboard)
cli.add_command(clone_command.clone)


def main() -> None:
    cli()


__all__ = ["SearchSpace", "cli", "main"]
