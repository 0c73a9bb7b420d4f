"""Hostile trial output on the emulator: the unmodified operator reads a finished trial's log.

Two trials the issue names, each a one-trial TuningJob run by the operator against kubesim:

* ``line``: one line of ``--mb`` MB (no line end until the end), then ``loss=0.25``;
* ``tqdm``: a progress bar redrawn ``--updates`` times with ``\\r`` (``step=N loss=...``), then
  a last line ``loss=0.25``;
* ``short``: the line ``loss=0.25`` alone, the baseline: what recording any trial costs.

Reported per case: whether the trial was recorded right (Complete, objective 0.25), the
operator's peak RSS growth (VmHWM after minus before) and CPU time (from the TuningJob's
creation to its completion), the time from the trial's pod finishing to the TuningJob complete,
and the time a plain client takes to read the same log once through the API (stream and
discard): the goal is < 50 MiB and within 2x of reading it once. The machine's load average is
printed before and after.

    python -m bench.pod_logs [--mb 200] [--updates 200000] [--early-stopping]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import describe, machine, tuningjob

REPO_ROOT = Path(__file__).resolve().parents[1]
LINE = (
    "import sys\n"
    "chunk = 'x' * (1 << 20)\n"
    "for _ in range({mb}): sys.stdout.write(chunk)\n"
    "sys.stdout.write('\\nloss=0.25\\n')\n"
)
SHORT = "print('loss=0.25')\n"
TQDM = (
    "import sys\n"
    "for i in range({updates}): sys.stdout.write(f'\\rstep={{i}} loss={{1 + 1 / (i + 1):.6f}}')\n"
    "sys.stdout.write('\\nloss=0.25\\n')\n"
)


def run_case(case: str, script: str, early_stopping: bool, work_dir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT))
    import kubernetes

    from bench.operator import _install_crd, proc_sample
    from tests.integration.operator.harness import CRD, Cluster, OperatorProcess
    from tests.kubesim.harness import KubeSim, wait_until
    from tests.tools import ensure_kube_binaries

    # A directory per run: the emulator keeps its state there (a second run would find the
    # first one's CRD and objects).
    run_dir = work_dir / (case + ("-early-stopping" if early_stopping else ""))
    with KubeSim(controllers=True, work_dir=run_dir, log_level="WARNING") as sim:
        api = kubernetes.config.new_client_from_config(config_file=str(sim.kubeconfig))
        custom = kubernetes.client.CustomObjectsApi(api)
        core = kubernetes.client.CoreV1Api(api)
        _install_crd(api, CRD)
        # As in production (and the tests): the chart's ServiceAccount under its RBAC.
        binaries = ensure_kube_binaries()
        Cluster(sim, binaries["kubectl"]).install_operator_rbac(binaries["helm"])
        operator = OperatorProcess(sim, run_dir).start()
        wait_until(operator.leading, timeout=60, message="the operator leads")
        assert operator.process is not None
        pid = operator.process.pid
        try:
            time.sleep(2.0)  # let start-up allocations settle before the baseline
            before = proc_sample(pid)
            container = {"name": "train", "image": "x", "command": ["python", "-c", script]}
            stopping = {"algorithm": "median", "minTrials": 1000} if early_stopping else None
            body = tuningjob(
                case,
                [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
                metric="loss",
                trials=1,
                parallel=1,
                container=container,
                early_stopping=stopping,
            )
            created = proc_sample(pid)
            custom.create_namespaced_custom_object(
                "kubetune.io", "v1alpha1", "default", "tuningjobs", body
            )
            pod = wait_until(
                lambda: _succeeded_pod(core, case), timeout=1800, interval=0.05, message="pod"
            )
            finished = time.perf_counter()
            status = wait_until(
                lambda: _complete(custom, case), timeout=1800, interval=0.05, message="complete"
            )
            recorded = time.perf_counter() - finished
            after = proc_sample(pid)
            cpu = after.cpu_seconds - created.cpu_seconds
            began = time.perf_counter()
            response = core.read_namespaced_pod_log(pod, "default", _preload_content=False)
            size = sum(len(chunk) for chunk in response.stream(64 * 1024))
            response.release_conn()
            read_once = time.perf_counter() - began
        finally:
            operator.stop()
    best = status.get("bestTrial") or {}
    return {
        "case": case + (" (early stopping)" if early_stopping else ""),
        "log_mib": size / (1 << 20),
        "right": status["trials"]["succeeded"] == 1 and best.get("objective") == 0.25,
        "rss_growth_mib": after.peak_rss_mib - before.peak_rss_mib,
        "cpu_s": cpu,
        "recorded_s": recorded,
        "read_once_s": read_once,
    }


def _succeeded_pod(core: Any, tuningjob_name: str) -> str | None:
    pods = core.list_namespaced_pod(
        "default", label_selector=f"kubetune.io/tuningjob={tuningjob_name}"
    )
    for pod in pods.items:
        if pod.status and pod.status.phase == "Succeeded":
            return str(pod.metadata.name)
    return None


def _complete(custom: Any, name: str) -> dict[str, Any] | None:
    obj = custom.get_namespaced_custom_object(
        "kubetune.io", "v1alpha1", "default", "tuningjobs", name
    )
    status = obj.get("status") or {}
    done = any(
        c["type"] in ("Complete", "Failed") and c["status"] == "True"
        for c in status.get("conditions") or []
    )
    return dict(status) if done else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--early-stopping", action="store_true", help="also with early stopping")
    args = parser.parse_args(argv)
    print(describe(machine()))
    print(f"load average (1 min) before: {os.getloadavg()[0]:.1f}")
    work_dir = Path(tempfile.mkdtemp(prefix="kubetune-pod-logs-"))
    cases = [
        ("short", SHORT),
        ("line", LINE.format(mb=args.mb)),
        ("tqdm", TQDM.format(updates=args.updates)),
    ]
    modes = [False, True] if args.early_stopping else [False]
    rows = [run_case(case, script, mode, work_dir) for mode in modes for case, script in cases]
    print(f"load average (1 min) after: {os.getloadavg()[0]:.1f}")
    print(
        "\n| trial output | log (MiB) | recorded right | operator peak RSS growth (MiB) "
        "| operator CPU (s) | pod done -> recorded (s) | read once (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['case']} | {row['log_mib']:.1f} | {'yes' if row['right'] else 'NO'} | "
            f"{row['rss_growth_mib']:.1f} | {row['cpu_s']:.2f} | {row['recorded_s']:.2f} | "
            f"{row['read_once_s']:.2f} |"
        )
    return 0 if all(r["right"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
