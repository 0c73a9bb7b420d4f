"""``kubetune report SOURCE`` and ``kubetune dashboard SOURCE``: a local run or a cluster
TuningJob, read without writing to it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.text import Text

from kubetune.cli.display import best_text, counts_text, trials_table
from kubetune.controller.diagnosis import Thresholds
from kubetune.report.source import StudyReport
from kubetune.report.summary import Summary, diagnosis_text

EXIT_FAILED = 1
EXIT_INVALID = 2

SOURCE_HELP = (
    "SOURCE is a manifest, a run directory (kubetune-runs/NAME), or tuningjob/NAME on the "
    "cluster of the kubeconfig's current context."
)


def cluster_options(command: click.decorators.FC) -> click.decorators.FC:
    """-n, --context and --kubeconfig, as kubectl has them."""
    command = click.option(
        "--kubeconfig", default=None, help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."
    )(command)
    command = click.option("--context", default=None, help="Kubeconfig context to use.")(command)
    return click.option(
        "-n", "--namespace", default=None, help="Namespace (default: the context's)."
    )(command)


def local_run_options(command: click.decorators.FC) -> click.decorators.FC:
    """--storage and --output-dir: where to find a local run named by a manifest."""
    command = click.option(
        "--output-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where the local run went (default: ./kubetune-runs, then kubetune-runs beside the "
        "manifest).",
    )(command)
    return click.option("--storage", default=None, help="Optuna storage URL the local run used.")(
        command
    )


def _thresholds(values: tuple[str, ...]) -> Thresholds | None:
    if not values:
        return None
    fields: dict[str, float] = {}
    for text in values:
        name, equals, raw = text.partition("=")
        if not equals or name not in ("bias", "variance", "mismatch"):
            raise click.BadParameter(
                f"{text!r}: expected bias=F, variance=F or mismatch=F", param_hint="--threshold"
            )
        try:
            fields[name] = float(raw)
        except ValueError:
            raise click.BadParameter(
                f"{text!r}: {raw!r} is not a number", param_hint="--threshold"
            ) from None
    return Thresholds(**fields)


def print_summary(console: Console, report: StudyReport, summary: Summary) -> None:
    """The terminal summary: what was tuned, conditions, trials, best trial, diagnosis."""
    job = report.job
    spec = job.spec
    console.print(
        Text(f"{job.name}: ", style="bold")
        + Text(f"{spec.objective_summary}, {spec.strategy.algorithm}; ")
        + Text(f"read from {report.origin}", style="dim")
    )
    for condition in summary.conditions:
        console.print(condition, markup=False, soft_wrap=True)
    console.print(trials_table(job, report.trials, console.width))
    console.print(counts_text(job, report.trials))
    console.print(best_text(job, report.trials))
    if summary.diagnosis is not None:
        console.print(diagnosis_text(summary.diagnosis))


def _fail(console: Console, message: str, code: int = EXIT_FAILED) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True, highlight=False)
    sys.exit(code)


def resolve_or_exit(
    errors: Console,
    source: str,
    *,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    output_dir: Path | None,
    storage: str | None,
) -> list[StudyReport]:
    """The studies SOURCE names (local or on a cluster), or exit with the reason."""
    from kubetune.report.cluster import ClusterError
    from kubetune.report.source import SourceError, resolve

    try:
        return list(
            resolve(
                source,
                namespace=namespace,
                kubeconfig=kubeconfig,
                context=context,
                output_dir=output_dir,
                storage=storage,
            )
        )
    except (SourceError, ClusterError) as error:
        _fail(errors, str(error))


@click.command(epilog=SOURCE_HELP)
@click.argument("source")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write one self-contained HTML page of plots (opens with no network).",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=FRACTION",
    help="Diagnosis threshold, a fraction of the validation error: bias=0.25, variance=0.25, "
    "mismatch=0.25 (repeatable; overrides spec.diagnosis.thresholds).",
)
@local_run_options
@cluster_options
def report(
    source: str,
    html_file: Path | None,
    thresholds: tuple[str, ...],
    storage: str | None,
    output_dir: Path | None,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
) -> None:
    """Summarize a study: trials, best trial, diagnosis; --html FILE adds the plots."""
    from kubetune.report.summary import summarize

    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    chosen = _thresholds(thresholds)
    reports = resolve_or_exit(
        errors,
        source,
        namespace=namespace,
        kubeconfig=kubeconfig,
        context=context,
        output_dir=output_dir,
        storage=storage,
    )
    for index, found in enumerate(reports):
        summary = summarize(found, chosen)
        print_summary(console, found, summary)
        if html_file is not None:
            from kubetune.report.html import PlotlyMissing, render_html

            target = html_file
            if len(reports) > 1:  # one page per TuningJob of a multi-document manifest
                target = html_file.with_name(f"{html_file.stem}-{found.job.name}{html_file.suffix}")
            try:
                page = render_html(found, chosen)
            except PlotlyMissing as error:
                _fail(errors, str(error))
                return
            target.write_text(page, encoding="utf-8")
            console.print(f"HTML report: {target}", markup=False, soft_wrap=True)
        if index < len(reports) - 1:
            console.print()
