"""What ``kubetune run`` and ``kubetune report`` show: live progress and the final tables."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kubetune.api.spec import TuningJob
from kubetune.controller.completion import best_trial, trial_budget
from kubetune.controller.model import Completion
from kubetune.controller.status import count_trials, is_infeasible
from kubetune.controller.tuner import StepResult
from kubetune.report.summary import marked_trials, objective_values
from kubetune.runtime.local import LocalBackend
from kubetune.runtime.runner import RunReport
from kubetune.search.pareto import listed_front, pareto_trials
from kubetune.trials import TrialRecord, TrialState

STATE_STYLES = {
    TrialState.COMPLETE: "green",
    TrialState.FAILED: "red",
    TrialState.PRUNED: "yellow",
    TrialState.RUNNING: "cyan",
}
MAX_TABLE_ROWS = 25


INFEASIBLE = "Infeasible"  # a state as the tables show it (TrialState values are capitalized)
INFEASIBLE_STYLE = "magenta"


def state_label(job: TuningJob, trial: TrialRecord) -> Text:
    """A trial's state as the tables show it: a succeeded trial outside ``spec.constraints``
    reads ``infeasible``."""
    if is_infeasible(trial, job.spec.constraints):
        return Text(INFEASIBLE, style=INFEASIBLE_STYLE)
    return Text(trial.state.value, style=STATE_STYLES[trial.state])


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_params(params: object) -> str:
    if not isinstance(params, dict):
        return ""
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items())


def progress_line(job: TuningJob, trials: Sequence[TrialRecord], elapsed: float) -> Text:
    counts = count_trials(trials, constraints=job.spec.constraints)
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
    if counts.infeasible:
        text.append(f" · {counts.infeasible} infeasible", style=INFEASIBLE_STYLE)
    if counts.pruned:
        text.append(f" · {counts.pruned} stopped", style="yellow")
    if best is not None and best.objective is not None:
        text.append(
            f" · best {job.spec.objective_metrics[0]}={format_value(best.objective)}",
            style="bold green",
        )
        text.append(f" (trial {best.number}: {format_params(dict(best.params))})")
    elif job.spec.multi_objective:
        front = pareto_trials(job.spec, trials)
        text.append(f" · Pareto front: {len(front)} trials", style="bold green")
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
    label = state_label(job, trial)
    label.pad_right(8 - len(label))
    text.append_text(label)
    for metric, value in objective_values(job.spec, trial).items():
        text.append(f" {metric}={format_value(value)}")
    text.append(f"  {format_params(dict(trial.params))}", style="dim")
    if trial.reason:
        text.append(f"  {trial.reason}: {trial.message or ''}", style=style)
    return text


@dataclass
class _Column:
    header: str
    cells: list[RenderableType]
    justify: JustifyMethod = "right"
    keep: bool = False  # shown even when every cell is empty
    min_width: int | None = None


def _shown_trials(job: TuningJob, trials: Sequence[TrialRecord]) -> tuple[list[TrialRecord], str]:
    """Trials by number; long studies show their best ``MAX_TABLE_ROWS`` (several objectives:
    that many of the Pareto front, well spread)."""
    shown = list(trials)
    title = f"Trials of {job.name}"
    if len(shown) > MAX_TABLE_ROWS and job.spec.multi_objective:
        front = pareto_trials(job.spec, trials)
        shown = listed_front(job.spec, front, MAX_TABLE_ROWS)
        title += f" ({len(shown)} of the {len(front)} on the Pareto front, of {len(trials)})"
    elif len(shown) > MAX_TABLE_ROWS and job.spec.objective is not None:
        completed = [t for t in shown if t.objective is not None]
        completed.sort(
            key=lambda t: t.objective or 0.0, reverse=job.spec.objective.direction == "maximize"
        )
        shown = sorted(completed[:MAX_TABLE_ROWS], key=lambda t: t.number)
        title += f" (best {len(shown)} of {len(trials)})"
    return shown, title


def _widest(header: str, cells: Sequence[str]) -> int:
    return max([len(header), *(len(cell) for cell in cells)])


def _build_table(title: str, columns: Sequence[_Column], rows: int, caption: str | None) -> Table:
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in columns:
        table.add_column(
            column.header,
            justify=column.justify,
            min_width=column.min_width,
            no_wrap=column.min_width is not None,
            overflow="fold",
        )
    for index in range(rows):
        table.add_row(*(column.cells[index] for column in columns))
    return table


def trials_table(job: TuningJob, trials: Sequence[TrialRecord], width: int | None = None) -> Table:
    """Trials by number, the best one (several objectives: the Pareto front) marked ``*`` and
    bold; long studies show the best ones.

    Columns empty for every trial shown are left out; when the table is wider than ``width``
    the parameters share one wrapped column, so the objective's name is never cut.
    """
    spec = job.spec
    shown, title = _shown_trials(job, trials)
    marked = marked_trials(spec, trials)
    numbers = [("*" if t.number in marked else "") + str(t.number) for t in shown]
    labels = [state_label(job, t) for t in shown]
    states = [label.plain for label in labels]
    objectives = []
    for metric in spec.objective_metrics:
        values = [objective_values(spec, t).get(metric) for t in shown]
        cells = ["" if v is None else format_value(v) for v in values]
        widest = _widest(metric, cells)
        objectives.append(_Column(metric, list[RenderableType](cells), keep=True, min_width=widest))
    fixed = [
        _Column("#", list(numbers), keep=True, min_width=_widest("#", numbers)),
        _Column(
            "state",
            list(labels),
            "left",
            keep=True,
            min_width=_widest("state", states),
        ),
        *objectives,
        *(
            _Column(
                name,
                [format_value(t.metrics[name]) if name in t.metrics else "" for t in shown],
            )
            for name in spec.recorded_metrics[len(spec.objective_metrics) :]
        ),
    ]
    params = [
        _Column(p.name, [format_value(t.params.get(p.name, "")) for t in shown])
        for p in spec.parameters
    ]
    reason = _Column("reason", [t.reason or "" for t in shown], "left")

    def kept(columns: Sequence[_Column]) -> list[_Column]:
        return [c for c in columns if c.keep or any(str(cell) for cell in c.cells)]

    what = "on the Pareto front" if spec.multi_objective else "best trial"
    notes = [f"* {what}"] if any(t.number in marked for t in shown) else []
    if INFEASIBLE in states:
        notes.append(f"{INFEASIBLE}: succeeded outside spec.constraints, never the best")
    caption = "; ".join(notes) or None
    table = _build_table(title, kept([*fixed, *params, reason]), len(shown), caption)
    if width is None or _natural_width(table) <= width:
        style_best(table, shown, marked)
        return table
    together = _Column("parameters", [format_params(dict(t.params)) for t in shown], "left")
    table = _build_table(title, kept([*fixed, together, reason]), len(shown), caption)
    style_best(table, shown, marked)
    return table


def _natural_width(table: Table) -> int:
    """The width the table takes when nothing has to wrap."""
    return Console(width=1 << 14).measure(table).maximum


def style_best(table: Table, shown: Sequence[TrialRecord], marked: set[int]) -> None:
    for index, trial in enumerate(shown):
        if trial.number in marked:
            table.rows[index].style = "bold"


def completion_text(completion: Completion | None) -> Text:
    if completion is None:
        return Text("Still running.")
    style = "green" if completion.type.value == "Complete" else "red"
    return Text(
        f"{completion.type.value}: {completion.reason.value} — {completion.message}", style=style
    )


def best_text(job: TuningJob, trials: Sequence[TrialRecord]) -> RenderableType:
    if job.spec.multi_objective:
        return front_text(job, trials)
    best = best_trial(job.spec, trials)
    if best is None or best.objective is None:
        return no_best_text(job, trials)
    text = Text("Best trial ", style="bold")
    text.append(f"{best.number}", style="bold green")
    metric = job.spec.objective_metrics[0]
    text.append(f": {metric}={format_value(best.objective)}", style="bold")
    text.append(f"\n  parameters: {format_params(dict(best.params))}")
    others = {k: v for k, v in best.metrics.items() if k != metric}
    if others:
        text.append(f"\n  metrics: {format_params(others)}")
    return text


def front_text(job: TuningJob, trials: Sequence[TrialRecord]) -> RenderableType:
    """Several objectives: how many trials the Pareto front holds, and which."""
    front = pareto_trials(job.spec, trials)
    if not front:
        return no_best_text(job, trials)
    text = Text("Pareto front: ", style="bold")
    text.append(f"{len(front)} trial{'' if len(front) == 1 else 's'}", style="bold green")
    text.append(f" ({job.spec.objective_summary}): ")
    text.append(", ".join(str(t.number) for t in front))
    return text


def no_best_text(job: TuningJob, trials: Sequence[TrialRecord]) -> Text:
    """Why there is no best trial (or front): none succeeded, or none within the constraints."""
    if count_trials(trials, constraints=job.spec.constraints).succeeded:
        return Text(
            "No feasible trial: every trial that succeeded is outside spec.constraints.",
            style="red",
        )
    return Text("No trial succeeded.", style="red")


def counts_text(job: TuningJob, trials: Sequence[TrialRecord]) -> str:
    """``12 trials (12 succeeded (4 infeasible), 0 failed, 0 stopped)``."""
    counts = count_trials(trials, constraints=job.spec.constraints)
    infeasible = f" ({counts.infeasible} infeasible)" if counts.infeasible else ""
    return (
        f"{counts.total} trials ({counts.succeeded} succeeded{infeasible}, {counts.failed} "
        f"failed, {counts.pruned} stopped)"
    )


def print_report(console: Console, report: RunReport) -> None:
    job = report.job
    console.print(trials_table(job, report.trials, console.width))
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
    console.print(f"{counts_text(job, report.trials)} in {report.elapsed:.1f}s")
    if report.warm_start:
        loaded = ", ".join(f"{count} from {parent}" for parent, count in report.warm_start.items())
        total = sum(report.warm_start.values())
        console.print(f"Warm start: {total} trials of parent runs seeded the study ({loaded})")
    console.print(f"Study: {report.paths.storage}   (optuna-dashboard {report.paths.storage})")
    console.print(f"Trial logs: {report.paths.logs}/")
