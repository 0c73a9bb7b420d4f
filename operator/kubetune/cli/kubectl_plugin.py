"""``kubectl tune``: the kubectl plugin (the ``kubectl-tune`` executable on PATH).

kubectl runs ``kubectl-tune`` with the words after ``tune``; like kubectl, every command takes
``-n/--namespace``, ``--context`` and ``--kubeconfig`` (before or after the command's name).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from rich.console import Console

from kubetune.cli.display import format_params, format_value
from kubetune.report.cluster import ClusterError, Connection, connect, get_tuningjob

TOP_TRIALS = 5

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


class Target:
    """The kubeconfig, context and namespace the command line chose (group or command)."""

    def __init__(self) -> None:
        self.namespace: str | None = None
        self.context: str | None = None
        self.kubeconfig: str | None = None

    def connect(self) -> Connection:
        return connect(self.kubeconfig, self.context, self.namespace)

    def args(self) -> list[str]:
        """The same choice as options of ``kubetune`` commands."""
        found = []
        for option, value in (
            ("--namespace", self.namespace),
            ("--context", self.context),
            ("--kubeconfig", self.kubeconfig),
        ):
            if value is not None:
                found += [option, value]
        return found


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        setattr(ctx.ensure_object(Target), param.name or "", value)
    return value


def target_options(command: click.decorators.FC) -> click.decorators.FC:
    """-n, --context, --kubeconfig, accepted on the group and on every command."""
    for decl, help_text in (
        (("--kubeconfig",), "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."),
        (("--context",), "Kubeconfig context to use."),
        (("-n", "--namespace"), "Namespace (default: the context's)."),
    ):
        command = click.option(
            *decl, default=None, expose_value=False, callback=_remember, help=help_text
        )(command)
    return command


def _target() -> Target:
    return click.get_current_context().ensure_object(Target)


def _fail(message: str) -> None:
    errors.print(f"error: {message}", markup=False, soft_wrap=True)
    sys.exit(1)


def _columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as kubectl prints them: left-aligned columns three spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = int((datetime.now(UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _state(status: dict[str, Any]) -> str:
    """The summary condition that is True (Complete, Failed, Running), with its reason."""
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return f"{condition['type']} ({condition.get('reason', '')})"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Running" and condition.get("status") == "True":
            return "Running"
    return "Pending"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@target_options
@click.version_option(package_name="kubetune")
def plugin() -> None:
    """kubectl tune: TuningJobs on the current cluster (kubetune's kubectl plugin)."""


@plugin.command("list")
@click.option("-A", "--all-namespaces", is_flag=True, help="TuningJobs of every namespace.")
@target_options
def list_(all_namespaces: bool) -> None:
    """TuningJobs: state, trials done, best objective, age."""
    from kubetune.report.cluster import list_tuningjobs

    try:
        items = list_tuningjobs(_target().connect(), all_namespaces)
    except ClusterError as error:
        _fail(str(error))
        return
    if not items:
        errors.print("No TuningJobs found.", markup=False)
        return
    head = ["NAMESPACE"] if all_namespaces else []
    rows = [[*head, "NAME", "STATE", "TRIALS", "BEST", "AGE"]]
    for item in sorted(
        items, key=lambda i: (i["metadata"].get("namespace"), i["metadata"]["name"])
    ):
        meta, status = item["metadata"], item.get("status") or {}
        counts = status.get("trials") or {}
        limit = ((item.get("spec") or {}).get("limits") or {}).get("maxTrials", "?")
        best = status.get("bestTrial")
        metric = ((item.get("spec") or {}).get("objective") or {}).get("metric", "")
        rows.append(
            [
                *([meta.get("namespace", "")] if all_namespaces else []),
                meta["name"],
                _state(status),
                f"{counts.get('total', 0) - counts.get('active', 0)}/{limit}",
                f"{metric}={format_value(best['objective'])}" if best else "-",
                _age(meta.get("creationTimestamp")),
            ]
        )
    click.echo(_columns(rows))


@plugin.command()
@click.argument("name")
@target_options
def describe(name: str) -> None:
    """Conditions, trial counters, the best trial and the top trials of TuningJob NAME."""
    from kubetune.report.cluster import job_of, load_cluster_study
    from kubetune.report.source import records
    from kubetune.report.summary import ranked

    try:
        connection = _target().connect()
        obj = get_tuningjob(connection, name)
        job = job_of(obj)
    except ClusterError as error:
        _fail(str(error))
        return
    spec, status = job.spec, obj.get("status") or {}
    meta = obj["metadata"]
    lines = [
        f"Name:        {name}",
        f"Namespace:   {meta.get('namespace')}",
        f"Objective:   {spec.objective_summary}",
        f"Strategy:    {spec.strategy.algorithm}"
        + (f" (seed {spec.strategy.seed})" if spec.strategy.seed is not None else ""),
        f"Max trials:  {spec.limits.max_trials}, {spec.limits.parallel_trials} at a time",
        f"Created:     {meta.get('creationTimestamp')} ({_age(meta.get('creationTimestamp'))} ago)",
    ]
    click.echo("\n".join(lines))
    conditions = status.get("conditions") or []
    click.echo("Conditions:")
    if conditions:
        rows = [["TYPE", "STATUS", "REASON", "MESSAGE"]]
        rows += [
            [c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", "")]
            for c in conditions
        ]
        click.echo("\n".join("  " + line for line in _columns(rows).splitlines()))
    else:
        click.echo("  <none>")
    counts = status.get("trials") or {}
    click.echo(
        "Trials:      "
        + ", ".join(f"{key} {counts.get(key, 0)}" for key in ("active", "succeeded", "failed"))
        + f", pruned {counts.get('pruned', 0)}, total {counts.get('total', 0)}"
    )
    best = status.get("bestTrial")
    if best:
        click.echo(
            f"Best trial:  {best.get('name')} (#{best.get('number')}): "
            f"{spec.objective_metrics[0]}={format_value(best.get('objective'))}"
        )
        click.echo(f"  parameters: {format_params(best.get('parameters') or {})}")
        if best.get("metrics"):
            click.echo(f"  metrics:    {format_params(best['metrics'])}")
    elif spec.multi_objective:
        click.echo(_front_line(status))
    else:
        click.echo("Best trial:  <none yet>")
    diagnosis = status.get("diagnosis")
    if diagnosis:
        click.echo(f"Diagnosis:   {diagnosis.get('verdict')}: {diagnosis.get('message')}")
    try:
        study = load_cluster_study(connection, obj)
    except ClusterError as error:
        click.echo(f"Top trials:  <study not readable: {error}>")
        return
    done = ranked(spec, records(job, study))
    heading = "Pareto front" if spec.multi_objective else f"Top trials (of {len(done)} complete)"
    click.echo(f"{heading}:")
    if not done:
        click.echo("  <none>")
        return
    metrics = spec.objective_metrics
    rows = [["#", *metrics, "PARAMETERS"]]
    rows += [
        [
            str(t.number),
            *(format_value(v) for v in (t.values or (t.objective,))),
            format_params(dict(t.params)),
        ]
        for t in done[:TOP_TRIALS]
    ]
    click.echo("\n".join("  " + line for line in _columns(rows).splitlines()))


def _front_line(status: dict[str, Any]) -> str:
    """A multi-objective TuningJob's Pareto front, as its status lists it."""
    listed = ", ".join(str(t.get("number")) for t in status.get("paretoFront") or [])
    size = status.get("paretoFrontSize", 0)
    return f"Pareto front: {size} trial(s)" + (f", listed: {listed}" if listed else "")


def _kubetune(*args: str) -> NoReturn:
    """Become a ``kubetune`` command in this process's Python (the same installation): exec, not
    a child process, so a signal to ``kubectl tune`` (Ctrl-C, a terminate) reaches the command,
    e.g. stops the dashboard's server instead of orphaning it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "kubetune.cli", *args])


@plugin.command()
@click.argument("name")
@click.option("--html", "html_file", default=None, help="Also write the HTML page of plots.")
@target_options
def report(name: str, html_file: str | None) -> None:
    """kubetune report tuningjob/NAME: summary, diagnosis and, with --html FILE, the plots."""
    _kubetune(
        "report",
        f"tuningjob/{name}",
        *_target().args(),
        *(["--html", html_file] if html_file else []),
    )


@plugin.command()
@click.argument("name")
@click.argument("trial", type=int)
@click.option("-f", "--follow", is_flag=True, help="Stream the log while the trial runs.")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@target_options
def logs(name: str, trial: int, follow: bool, tail: int | None) -> None:
    """The log of trial number TRIAL of TuningJob NAME (its primary container)."""
    from kubernetes.client.exceptions import ApiException

    from kubetune.controller.template import primary_container_index
    from kubetune.names import LABEL_TRIAL, LABEL_TUNINGJOB, trial_name, tuningjob_label
    from kubetune.report.cluster import job_of

    try:
        connection = _target().connect()
        job = job_of(get_tuningjob(connection, name))
    except ClusterError as error:
        _fail(str(error))
        return
    containers = job.spec.trial_template.spec["template"]["spec"]["containers"]
    container = containers[primary_container_index(job)].get("name")
    selector = f"{LABEL_TUNINGJOB}={tuningjob_label(name)},{LABEL_TRIAL}={trial}"
    try:
        pods = connection.core.list_namespaced_pod(connection.namespace, label_selector=selector)
    except ApiException as error:
        _fail(f"cannot list the pods of trial {trial}: {error.reason}")
        return
    if not pods.items:
        _fail(
            f"trial {trial} of {name} has no pod (Job {trial_name(name, trial)}): not started, "
            "or its finished Job was deleted (the operator's --finished-job-retention)"
        )
    pod = max(pods.items, key=lambda p: p.metadata.creation_timestamp or datetime.min)
    options: dict[str, Any] = {"container": container}
    if tail is not None:
        options["tail_lines"] = tail
    try:
        if follow:
            stream = connection.core.read_namespaced_pod_log(
                pod.metadata.name,
                connection.namespace,
                follow=True,
                _preload_content=False,
                **options,
            )
            for chunk in stream.stream():
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
            return
        text = connection.core.read_namespaced_pod_log(
            pod.metadata.name, connection.namespace, **options
        )
    except ApiException as error:
        _fail(f"cannot read the log of pod {pod.metadata.name}: {error.reason}")
        return
    sys.stdout.write(text)


def kubetune_has(command: str) -> bool:
    """Whether this kubetune has the ``kubetune COMMAND`` command."""
    from kubetune.cli.main import cli

    return command in cli.commands


@plugin.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@target_options
def clone(name: str, options: tuple[str, ...]) -> None:
    """kubetune clone tuningjob/NAME [--refine] [--top K] [-o FILE]: a new TuningJob from it."""
    if not kubetune_has("clone"):
        _fail("this kubetune has no `kubetune clone` command (it comes with a later version)")
    _kubetune("clone", f"tuningjob/{name}", *_target().args(), *options)


@plugin.command()
@click.argument("name")
@click.option("--max-trials", type=click.IntRange(min=1), required=True, help="New maxTrials.")
@target_options
def extend(name: str, max_trials: int) -> None:
    """Raise spec.limits.maxTrials of TuningJob NAME: a finished study goes on."""
    from kubernetes.client.exceptions import ApiException

    from kubetune.names import API_GROUP, PLURAL, VERSION

    try:
        connection = _target().connect()
        obj = get_tuningjob(connection, name)
    except ClusterError as error:
        _fail(str(error))
        return
    current = ((obj.get("spec") or {}).get("limits") or {}).get("maxTrials")
    if current is not None and max_trials <= current:
        _fail(f"--max-trials {max_trials} must be more than the current maxTrials {current}")
    patch = {
        "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
        "spec": {"limits": {"maxTrials": max_trials}},
    }
    try:
        connection.custom.patch_namespaced_custom_object(
            API_GROUP, VERSION, connection.namespace, PLURAL, name, patch
        )
    except ApiException as error:
        detail = error.reason
        if error.body:
            with contextlib.suppress(ValueError):
                detail = json.loads(error.body).get("message", detail)
        _fail(f"cannot extend {name}: {detail}")
    click.echo(f"tuningjob.{API_GROUP}/{name} extended: maxTrials {current} -> {max_trials}")


@plugin.command()
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port (0: any free port).")
@target_options
def dashboard(name: str, host: str, port: int) -> None:
    """optuna-dashboard over TuningJob NAME's study, read-only, served on this machine."""
    _kubetune(
        "dashboard", f"tuningjob/{name}", *_target().args(), "--host", host, "--port", str(port)
    )


def main() -> None:
    plugin(prog_name="kubectl tune")


__all__ = ["main", "plugin"]
