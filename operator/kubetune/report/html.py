"""``kubetune report --html FILE``: one self-contained page (plotly.js inlined; it opens with no
network) with the summary, the diagnosis and the plots of a study."""

from __future__ import annotations

import html
from collections.abc import Sequence

from kubetune.api.spec import Constraint
from kubetune.controller.diagnosis import Thresholds
from kubetune.controller.status import is_infeasible
from kubetune.report.plots import Plot, study_plots
from kubetune.report.source import StudyReport
from kubetune.report.summary import Summary, marked_trials, objective_values, summarize
from kubetune.trials import TrialRecord, TrialState

TOP_TRIALS = 10


class PlotlyMissing(RuntimeError):
    """plotly (the extra ``report``) is not installed."""


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
tr.best { font-weight: bold; background: #eef8ee; }
.note { color: #777; font-style: italic; } .caption { color: #555; margin: 0.2em 0; }
.verdict { padding: 0.6em 1em; border-left: 4px solid #c80; background: #fff8ec; }
.verdict.ok { border-color: #2a2; background: #eefaee; }
.plot { min-height: 420px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _value(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _trials_table(report: StudyReport, summary: Summary) -> str:
    spec = report.job.spec
    objectives = spec.objective_metrics
    metrics = spec.recorded_metrics[len(objectives) :]
    params = [p.name for p in spec.parameters]
    head = ["#", "state", *objectives, *metrics, *params]
    rows = []
    marked = marked_trials(spec, report.trials)
    for trial in summary.top(TOP_TRIALS):
        values = objective_values(spec, trial)
        cells = [
            str(trial.number),
            "Infeasible" if is_infeasible(trial, spec.constraints) else trial.state.value,
            *(_value(values[m]) if m in values else "" for m in objectives),
            *(_value(trial.metrics[m]) if m in trial.metrics else "" for m in metrics),
            *(_value(trial.params.get(p, "")) for p in params),
        ]
        css = ' class="best"' if trial.number in marked else ""
        marker = "* " if trial.number in marked else ""
        cells[0] = marker + cells[0]
        rows.append(f"<tr{css}>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _counts(trials: Sequence[TrialRecord], constraints: Sequence[Constraint]) -> str:
    by_state = {state: sum(t.state is state for t in trials) for state in TrialState}
    parts = [f"{len(trials)} trials"] + [
        f"{count} {state.value.lower()}" for state, count in by_state.items() if count
    ]
    infeasible = sum(1 for t in trials if is_infeasible(t, constraints))
    if infeasible:
        parts.append(f"{infeasible} of them infeasible (spec.constraints)")
    return ", ".join(parts)


def _summary_section(report: StudyReport, summary: Summary) -> str:
    spec = report.job.spec
    lines = [
        f"<p><b>{_e(spec.objective_summary)}</b>, strategy "
        f"{_e(spec.strategy.algorithm)}; {_e(_counts(report.trials, spec.constraints))}. "
        f"Read from "
        f"{_e(report.origin)}.</p>"
    ]
    for condition in summary.conditions:
        lines.append(f"<p>{_e(condition)}</p>")
    if summary.best is not None and summary.best.objective is not None:
        params = ", ".join(f"{k}={_value(v)}" for k, v in summary.best.params.items())
        lines.append(
            f"<p><b>Best trial {summary.best.number}</b>: {_e(spec.objective_metrics[0])} = "
            f"{_e(_value(summary.best.objective))} ({_e(params)})</p>"
        )
    elif spec.multi_objective and summary.top(1):
        front = summary.top(len(report.trials))
        lines.append(
            f"<p><b>Pareto front</b>: {len(front)} trial(s), marked * below "
            f"({_e(', '.join(str(t.number) for t in front))})</p>"
        )
    else:
        lines.append('<p class="note">No trial has succeeded yet.</p>')
    lines.append(_trials_table(report, summary))
    return "\n".join(lines)


def _diagnosis_section(summary: Summary) -> str:
    diagnosis = summary.diagnosis
    if diagnosis is None:
        return ""
    css = "verdict ok" if diagnosis.verdict == "ok" else "verdict"
    steps = "".join(f"<li>{_e(step)}</li>" for step in diagnosis.next_steps)
    gap = ""
    if diagnosis.gap_importances:
        items = "".join(
            f"<li>{_e(name)}: {share:.0%}</li>" for name, share in diagnosis.gap_importances
        )
        gap = f"<p>Parameters that moved the train/validation gap most:</p><ul>{items}</ul>"
    return (
        f'<h2 id="diagnosis">Diagnosis</h2><div class="{css}"><b>{_e(diagnosis.verdict)}</b>: '
        f"{_e(diagnosis.message)}</div>"
        + (f"<p>Next steps:</p><ul>{steps}</ul>" if steps else "")
        + gap
    )


def _plot_section(plot: Plot) -> str:
    head = f'<h2>{_e(plot.title)}</h2><p class="caption">{_e(plot.caption)}</p>'
    if plot.figure is None:
        return f'{head}<p class="note" data-plot-note="{_e(plot.key)}">{_e(plot.note)}</p>'
    body = plot.figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"plot-{plot.key}",
        config={"displaylogo": False, "responsive": True},
    )
    return f'{head}<div class="plot" data-plot="{_e(plot.key)}">{body}</div>'


def render_html(
    report: StudyReport, thresholds: Thresholds | None = None, plots: Sequence[Plot] | None = None
) -> str:
    """The whole page, with plotly.js inside it. Raises :class:`PlotlyMissing` without plotly."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise PlotlyMissing(
            "the HTML report needs plotly: pip install 'kubetune[report]'"
        ) from None

    summary = summarize(report, thresholds)
    drawn = study_plots(report.study, report.objective_names) if plots is None else plots
    title = f"kubetune report: {report.job.name}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{_e(title)}</title><style>{STYLE}</style>",
            # plotly.js itself, so the page needs no network (about 4.6 MB).
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head><body>",
            f"<h1>{_e(title)}</h1>",
            _summary_section(report, summary),
            _diagnosis_section(summary),
            *(_plot_section(plot) for plot in drawn),
            "</body></html>",
        ]
    )
