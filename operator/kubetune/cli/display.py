"""What ``kubetune run`` and ``kubetune report`` show: live progress and the final tables."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kubetune.api.spec import TuningJob
from kubetune.controller.completion import best_trial, trial_budget
from kubetune.controller.model import Completion
from kubetune.controller.status import count_trials
from kubetune.controller.tuner import StepResult
from kubetune.runtime.local import LocalBackend
from kubetune.runtime.runner import RunReport
from kubetune.trials import TrialRecord, TrialState

STATE_STYLES = {
    TrialState.COMPLETE: "green",
    TrialState.FAILED: "red",
    TrialState.PRUNED: "yellow",
    TrialState.RUNNING: "cyan",
}
MAX_TABLE_ROWS = 25


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_params(params: object) -> str:
    if not isinstance(params, dict):
        return ""
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items())


def progress_line(job: TuningJob, trials: Sequence[TrialRecord], elapsed: float) -> Text:
    counts = count_trials(trials)
    budget, _ = trial_budget(job.spec)
    best = best_trial(job.spec, trials)
    text = Text()
    text.append(f"{job.name} ", style="bold")
    text.append(f"[{elapsed:5.0f}s] ")
    text.append(f"{counts.total - counts.active}/{budget} done", style="bold")
    text.append(f" · {counts.active} running · ")
    text.append(f"{counts.succeeded} ok", style="green")
    text.append(" · ")
    text.append(f"{counts.failed} failed", style="red" if counts.failed else "")
    if counts.pruned:
        text.append(f" · {counts.pruned} stopped", style="yellow")
    if best is not None and best.objective is not None:
        text.append(
            f" · best {job.spec.objective.metric}={format_value(best.objective)}",
            style="bold green",
        )
        text.append(f" (trial {best.number}: {format_params(dict(best.params))})")
    return text


class LiveProgress:
    """Trials done / running / best so far; a line per finished trial when not on a terminal."""

    def __init__(self, console: Console, job: TuningJob) -> None:
        self.console = console
        self.job = job
        self.started = 0.0
        self._reported: set[int] = set()
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        self.started = time.monotonic()
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def __call__(self, step: StepResult, backend: LocalBackend) -> None:
        elapsed = time.monotonic() - self.started
        for trial in step.trials:
            if trial.state.finished and trial.number not in self._reported:
                self._reported.add(trial.number)
                self.console.print(trial_line(self.job, trial))
        if self._live is not None:
            running = ", ".join(str(n) for n in backend.running()) or "none"
            self._live.update(
                Group(progress_line(self.job, step.trials, elapsed), Text(f"running: {running}"))
            )


def trial_line(job: TuningJob, trial: TrialRecord) -> Text:
    style = STATE_STYLES[trial.state]
    text = Text(f"  trial {trial.number:>3} ", style="dim")
    text.append(f"{trial.state.value:<8}", style=style)
    if trial.objective is not None:
        text.append(f" {job.spec.objective.metric}={format_value(trial.objective)}")
    text.append(f"  {format_params(dict(trial.params))}", style="dim")
    if trial.reason:
        text.append(f"  {trial.reason}: {trial.message or ''}", style=style)
    return text


def trials_table(job: TuningJob, trials: Sequence[TrialRecord]) -> Table:
    """Trials by number; long studies show the best ones."""
    spec = job.spec
    shown = list(trials)
    title = f"Trials of {job.name}"
    if len(shown) > MAX_TABLE_ROWS:
        completed = [t for t in shown if t.objective is not None]
        completed.sort(
            key=lambda t: t.objective or 0.0, reverse=spec.objective.direction == "maximize"
        )
        shown = sorted(completed[:MAX_TABLE_ROWS], key=lambda t: t.number)
        title += f" (best {len(shown)} of {len(trials)})"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    table.add_column(spec.objective.metric, justify="right")
    for name in spec.objective.additional_metrics:
        table.add_column(name, justify="right")
    for parameter in spec.parameters:
        table.add_column(parameter.name, justify="right")
    table.add_column("reason")
    best = best_trial(spec, trials)
    for trial in shown:
        row: list[RenderableType] = [
            str(trial.number),
            Text(trial.state.value, style=STATE_STYLES[trial.state]),
            "" if trial.objective is None else format_value(trial.objective),
            *(
                format_value(trial.metrics[n]) if n in trial.metrics else ""
                for n in spec.objective.additional_metrics
            ),
            *(format_value(trial.params.get(p.name, "")) for p in spec.parameters),
            trial.reason or "",
        ]
        style = "bold" if best is not None and trial.number == best.number else ""
        table.add_row(*row, style=style)
    return table


def completion_text(completion: Completion | None) -> Text:
    if completion is None:
        return Text("Still running.")
    style = "green" if completion.type.value == "Complete" else "red"
    return Text(
        f"{completion.type.value}: {completion.reason.value} — {completion.message}", style=style
    )


def best_text(job: TuningJob, trials: Sequence[TrialRecord]) -> RenderableType:
    best = best_trial(job.spec, trials)
    if best is None or best.objective is None:
        return Text("No trial succeeded.", style="red")
    text = Text("Best trial ", style="bold")
    text.append(f"{best.number}", style="bold green")
    text.append(f": {job.spec.objective.metric}={format_value(best.objective)}", style="bold")
    text.append(f"\n  parameters: {format_params(dict(best.params))}")
    others = {k: v for k, v in best.metrics.items() if k != job.spec.objective.metric}
    if others:
        text.append(f"\n  metrics: {format_params(others)}")
    return text


def print_report(console: Console, report: RunReport) -> None:
    job = report.job
    console.print(trials_table(job, report.trials))
    if report.interrupted:
        console.print(
            Text(
                "Interrupted: finished trials are kept; run the same command again to resume.",
                style="yellow",
            )
        )
    else:
        console.print(completion_text(report.completion))
    console.print(best_text(job, report.trials))
    counts = count_trials(report.trials)
    console.print(
        f"{counts.total} trials ({counts.succeeded} succeeded, {counts.failed} failed, "
        f"{counts.pruned} stopped) in {report.elapsed:.1f}s"
    )
    console.print(f"Study: {report.paths.storage}   (optuna-dashboard {report.paths.storage})")
    console.print(f"Trial logs: {report.paths.logs}/")
