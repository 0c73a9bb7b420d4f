"""Untrusted trial output on a cluster: a tqdm bar redrawn 200,000 times is read whole by the
operator (every redraw a report) in bounded memory, its result exact, its journal bounded."""

from __future__ import annotations

from pathlib import Path

import optuna
from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES
from kubetune.runtime.kubernetes.journal import open_journal_storage

from .harness import Cluster, OperatorProcess, tuningjob

REDRAWS = 200_000
# The bar's loss is smallest in its very last redraw (an odd step: not in the downsampled
# curve); the line after the bar prints a larger one.
BAR = (
    "import sys\n"
    f"for i in range({REDRAWS}):\n"
    "    sys.stdout.write(f'\\r{i}it [00:01, step={i} loss={1 + 1 / (i + 1):.6f}]')\n"
    "sys.stdout.write('\\nloss=1.5 accuracy=0.75\\n')\n"
)
# Keeping every redraw's value took the operator's peak RSS up by 53-68 MiB for one such trial.
MAX_GROWTH_MIB = 30


def peak_rss_mib(operator: OperatorProcess) -> float:
    assert operator.process is not None
    status = Path(f"/proc/{operator.process.pid}/status").read_text()
    [line] = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def test_a_progress_bar_is_read_whole_in_bounded_memory(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob(
        "tqdm-bar",
        max_trials=2,
        parallel=2,
        container={"command": ["python", "-c", BAR]},
        spec={
            # Followed live (early stopping on) and never pruned: every value is parsed twice
            # (the followed log, then the finished one) and judged, none stops a trial.
            "earlyStopping": {"algorithm": "median", "minTrials": 1000},
            "metrics": {"objectiveValue": "min"},
        },
    )
    before = peak_rss_mib(operator)
    cluster.apply(manifest)

    done = cluster.wait_condition("tqdm-bar", "Complete", timeout=240)
    assert done["reason"] == "MaxTrialsReached", operator.log_tail()
    assert peak_rss_mib(operator) - before < MAX_GROWTH_MIB
    status = cluster.tuningjob("tqdm-bar")["status"]
    assert status["trials"]["succeeded"] == 2
    assert status["bestTrial"]["objective"] == 1.000005  # min over every redraw: 1 + 1/200000
    assert status["bestTrial"]["metrics"]["accuracy"] == 0.75

    uid = cluster.tuningjob("tqdm-bar")["metadata"]["uid"]
    storage = open_journal_storage(cluster.core, "tqdm-bar", "default", uid)
    study = optuna.load_study(study_name="tqdm-bar", storage=storage)
    for trial in study.get_trials(deepcopy=False):
        steps = sorted(trial.intermediate_values)
        assert len(steps) <= MAX_INTERMEDIATE_VALUES + 1, len(steps)
        assert steps[0] == 0
        assert steps[-1] == REDRAWS  # the line after the bar: the step after its last
        assert trial.intermediate_values[REDRAWS] == 1.5
