"""``kubetune clone SOURCE [--refine] [--top K] [-o FILE]``: a new TuningJob manifest from a
local run or a cluster TuningJob, as it is or with its ranges narrowed around its best trials
(and warm-started from it). The output is meant for ``kubectl apply -f`` or ``kubetune run``."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console

from kubetune.api import SpecError, TuningJob, parse_tuningjob
from kubetune.api.spec import MAX_WARM_START_PARENTS
from kubetune.cli.report_command import (
    SOURCE_HELP,
    cluster_options,
    local_run_options,
    resolve_or_exit,
)
from kubetune.names import API_GROUP
from kubetune.search.refine import Refined, refine, refine_around

EXIT_FAILED = 1
EXIT_INVALID = 2
DEFAULT_TOP = 5
_REVISION = re.compile(r"^(?P<base>.+)-r(?P<n>[0-9]+)$")
_PARAMETERS = "__kubetune_parameters__"


def clone_name(name: str) -> str:
    """``gbm`` → ``gbm-r1``, ``gbm-r1`` → ``gbm-r2``."""
    match = _REVISION.match(name)
    if match is None:
        return f"{name}-r1"
    return f"{match.group('base')}-r{int(match.group('n')) + 1}"


def _metadata(job: TuningJob, namespace: str | None) -> dict[str, Any]:
    """The clone's metadata: a new name, the source's labels, none of the annotations the API
    server, kubectl or the operator wrote on it."""
    metadata: dict[str, Any] = {"name": clone_name(job.name)}
    if namespace:
        metadata["namespace"] = namespace
    if job.metadata.labels:
        metadata["labels"] = dict(job.metadata.labels)
    annotations = {
        key: value
        for key, value in job.metadata.annotations.items()
        if not key.startswith(("kubectl.kubernetes.io/", API_GROUP, f"kopf.{API_GROUP}"))
        and not key.endswith(f".{API_GROUP}/last-handled-configuration")
    }
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def _warm_start(job: TuningJob, namespace: str | None) -> dict[str, Any]:
    """The source as first parent, then its own parents (up to five in all)."""
    parents: list[dict[str, str]] = [{"name": job.name}]
    if namespace:
        parents[0]["namespace"] = namespace
    previous = job.spec.warm_start
    if previous is not None and not previous.transfer:
        for parent in previous.parents:
            entry = parent.model_dump(mode="json", exclude_none=True)
            if entry not in parents and len(parents) < MAX_WARM_START_PARENTS:
                parents.append(entry)
    return {"type": "identicalDataAndAlgorithm", "parents": parents}


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _parameter_document(refined: Refined) -> dict[str, Any]:
    document = refined.parameter.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if refined.parameter.type == "int":
        for key in ("min", "max", "step"):
            if key in document:
                document[key] = _plain(document[key])
    return document


def render_clone(
    job: TuningJob,
    namespace: str | None,
    refined: Sequence[Refined] | None,
    header: Sequence[str],
) -> str:
    """The clone's manifest as YAML text: with ``refined``, the narrowed parameters, each under
    a comment saying why, and a warm start from the source; else the spec as it was."""
    spec: dict[str, Any] = job.spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    spec["parameters"] = [
        _parameter_document(Refined(parameter, "")) for parameter in job.spec.parameters
    ]
    if refined is not None:
        spec["parameters"] = _PARAMETERS
        spec["warmStart"] = _warm_start(job, namespace)
        # Their results reach the clone through the warm start: running them again would
        # spend trials on what is known (and some may be outside the narrowed ranges).
        spec.pop("initialTrials", None)
    document = {
        "apiVersion": job.api_version,
        "kind": job.kind,
        "metadata": _metadata(job, namespace),
        "spec": spec,
    }
    text = yaml.safe_dump(document, sort_keys=False, width=100)
    if refined is not None:
        lines = ["  parameters:"]
        for item in refined:
            lines.append(f"    # {item.parameter.name}: {item.reason}")
            flow = yaml.safe_dump(
                _parameter_document(item), default_flow_style=True, sort_keys=False, width=10_000
            ).strip()
            lines.append(f"    - {flow}")
        text = text.replace(f"  parameters: {_PARAMETERS}\n", "\n".join(lines) + "\n")
    return "".join(f"# {line}\n" for line in header) + text


@click.command(epilog=SOURCE_HELP)
@click.argument("source")
@click.option(
    "--refine",
    "refine_ranges",
    is_flag=True,
    help="Narrow the numeric ranges around the top trials (on each parameter's scale, with a "
    "margin, within the source's ranges), drop categorical values they never used, and "
    "warm-start from the source.",
)
@click.option(
    "--top",
    "top",
    type=click.IntRange(min=1),
    default=DEFAULT_TOP,
    show_default=True,
    help="How many of the best trials the refined ranges cover.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the manifest to FILE (default: standard output).",
)
@local_run_options
@cluster_options
def clone(
    source: str,
    refine_ranges: bool,
    top: int,
    output: Path | None,
    storage: str | None,
    output_dir: Path | None,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
) -> None:
    """Write a new TuningJob <name>-r<N> from SOURCE; --refine narrows it around the best."""
    from kubetune.report.cluster import tuningjob_name

    errors = Console(stderr=True, highlight=False)
    reports = resolve_or_exit(
        errors,
        source,
        namespace=namespace,
        kubeconfig=kubeconfig,
        context=context,
        output_dir=output_dir,
        storage=storage,
    )
    texts = []
    on_cluster = tuningjob_name(source) is not None and not Path(source).exists()
    for found in reports:
        job = found.job
        target_namespace = job.metadata.namespace if on_cluster else None
        header = [f"Cloned from {found.origin} by kubetune clone."]
        refined = None
        if refine_ranges:
            spec = job.spec
            best = refine_around(spec, found.trials, top)
            if not best:
                errors.print(
                    f"[red]error:[/red] {job.name} has no completed trial to refine around",
                    soft_wrap=True,
                )
                sys.exit(EXIT_FAILED)
            refined = refine(job.spec.parameters, best)
            header.append(
                f"Ranges narrowed around {len(best)} trial(s) of its Pareto front; warm-started "
                "from it."
                if spec.multi_objective
                else f"Ranges narrowed around its top {len(best)} trial(s); warm-started from it."
            )
        text = render_clone(job, target_namespace, refined, header)
        try:  # what it writes must load: the same validation as kubectl apply's operator
            parse_tuningjob(yaml.safe_load(text))
        except SpecError as error:
            errors.print(f"[red]error:[/red] the clone would not be valid:\n{error}")
            sys.exit(EXIT_INVALID)
        texts.append(text)
    result = "---\n".join(texts)
    if output is None:
        click.echo(result, nl=False)
    else:
        output.write_text(result, encoding="utf-8")
        errors.print(f"wrote {output}", soft_wrap=True, markup=False)
