"""Untrusted trial output on a cluster: a tqdm bar redrawn 200,000 times is read by the operator
in bounded memory as the line a terminal shows (its last redraw), the same followed live and
read when the trial finished."""

from __future__ import annotations

import optuna
from kubetune.runtime.kubernetes.journal import open_journal_storage

from bench.operator import proc_sample

from .harness import Cluster, OperatorProcess, tuningjob

REDRAWS = 200_000
# The bar's loss is smallest in its very last redraw, the one that counts; the line after the
# bar prints a larger one.
BAR = (
    "import sys\n"
    f"for i in range({REDRAWS}):\n"
    "    sys.stdout.write(f'\\r{i}it [00:01, step={i} loss={1 + 1 / (i + 1):.6f}]')\n"
    "sys.stdout.write('\\nloss=1.5 accuracy=0.75\\n')\n"
)
# Keeping every redraw's value took the operator's peak RSS up by 53-68 MiB for one such trial
# (+154 MiB for these two).
MAX_GROWTH_MIB = 30


def peak_rss_mib(operator: OperatorProcess) -> float:
    assert operator.process is not None
    return proc_sample(operator.process.pid).peak_rss_mib


def test_a_progress_bar_is_its_last_redraw_read_in_bounded_memory(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob(
        "tqdm-bar",
        max_trials=2,
        parallel=2,
        container={"command": ["python", "-c", BAR]},
        spec={
            # Followed live (early stopping on) and never pruned: the log is read twice (the
            # followed log, then the finished one) and every value judged, none stops a trial.
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
    assert status["bestTrial"]["objective"] == 1.000005  # the bar's last redraw: 1 + 1/200000
    assert status["bestTrial"]["metrics"]["accuracy"] == 0.75

    uid = cluster.tuningjob("tqdm-bar")["metadata"]["uid"]
    storage = open_journal_storage(cluster.core, "tqdm-bar", "default", uid)
    study = optuna.load_study(study_name="tqdm-bar", storage=storage)
    for trial in study.get_trials(deepcopy=False):
        # Two reports: the bar (its last redraw, with the step it printed), then the line
        # after it, at the step after that.
        assert trial.intermediate_values == {REDRAWS - 1: 1.000005, REDRAWS: 1.5}
