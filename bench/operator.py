"""Control-plane overhead and scale: what the platform team pays for the operator.

Two parts, each runnable alone:

``core`` (no cluster): the tuning core at scale, on the very storage the operator uses (the
ConfigMap study journal, here over an in-memory stand-in for the API): suggestion latency and
the time of a whole reconcile step against the number of finished trials (10 ... 10,000), and
the size of every object a 10,000-trial study leaves (journal chunks, TuningJob status).

``cluster``: the unmodified ``kubetune operator`` process against kubesim (the local
Kubernetes API emulator, whose kubelet runs each pod as a local process), with trials that print
their metric and exit at once. From the emulator's request log: trial turnaround (a trial's Job
marked Complete by the Job controller -> the next trial's Job created by the operator), API
requests per trial by verb; from ``/proc``: operator CPU seconds and peak RSS (VmHWM).

    python -m bench.operator core [--sizes 10,100,1000,10000]
    python -m bench.operator cluster [--trials 1000] [--fleet 50x10]
    python -m bench.operator --quick          # both, smoke-sized
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import describe, machine, succeeded, tuningjob

REPO_ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OPERATOR_AGENT = "kubetune-operator"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


PARAMETERS: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "y", "type": "float", "min": 1e-4, "max": 1.0, "scale": "log"},
    {"name": "layers", "type": "int", "min": 1, "max": 8},
    {"name": "kind", "type": "categorical", "values": ["a", "b", "c"]},
]
TRIAL_CONTAINER: dict[str, Any] = {
    "name": "train",
    "image": "example.com/noop:1",
    "command": ["sh", "-c", "echo loss=${params.x}"],
}


def manifest(
    name: str,
    trials: int,
    parallel: int,
    algorithm: str = "random",
    namespace: str = "default",
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A TuningJob whose trials print their objective and exit at once."""
    return tuningjob(
        name,
        PARAMETERS,
        metric="loss",
        trials=trials,
        parallel=parallel,
        algorithm=algorithm,
        seed=1,
        settings=settings,
        namespace=namespace,
        container=TRIAL_CONTAINER,
    )


# ---- core ----------------------------------------------------------------------------------
@dataclass
class CoreRow:
    strategy: str
    finished: int
    suggest_ms: float  # median of a few asks at this size
    step_ms: float  # one Tuner.step that records a result and suggests + launches the next


class _Backend:
    """Every launched trial runs until ``finish`` says otherwise; nothing else happens."""

    def __init__(self) -> None:
        from kubetune.controller.model import RuntimeTrial

        self.observed: dict[int, RuntimeTrial] = {}

    def observe(self, running: Any) -> Mapping[int, Any]:
        return {n: t for n, t in self.observed.items() if n in running}

    def launch(self, number: int, params: Any) -> None:
        from kubetune.controller.model import Phase, RuntimeTrial

        self.observed.setdefault(number, RuntimeTrial(number, Phase.RUNNING))

    def stop(self, number: int) -> None:
        self.observed.pop(number, None)

    def finish(self, number: int, value: float) -> None:
        self.observed[number] = succeeded(number, "loss", [value])


def _fake_api() -> Any:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.unit.runtime.kubernetes.fake_core import FakeCoreV1Api

    return FakeCoreV1Api()


def _fill(study: Any, count: int, seed: int) -> None:
    """Add ``count`` finished trials quickly (random points, as if a study had run)."""
    import random

    import optuna

    rng = random.Random(seed)
    distributions = study.space.distributions
    trials = []
    for _ in range(count):
        params = {}
        for name, dist in distributions.items():
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                params[name] = rng.choice(dist.choices)
            elif isinstance(dist, optuna.distributions.IntDistribution):
                params[name] = rng.randint(dist.low, dist.high)
            else:
                params[name] = rng.uniform(dist.low, dist.high)
        value = (float(params["x"]) - 0.3) ** 2 + rng.random() * 0.01
        trials.append(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                value=value,
                user_attrs={"kubetune.metrics": {"loss": value}},
            )
        )
    study.study.add_trials(trials)
    study.flush()


def core_latency(
    sizes: Sequence[int], strategies: Sequence[str], asks: int = 5
) -> tuple[list[CoreRow], dict[str, Any]]:
    """Suggestion and step latency against finished trials, on the ConfigMap journal."""
    import optuna
    from kubetune.api import parse_tuningjob
    from kubetune.controller.status import tuningjob_status
    from kubetune.controller.tuner import Tuner
    from kubetune.runtime.kubernetes.journal import open_journal_storage
    from kubetune.search.study import TuningStudy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[CoreRow] = []
    sizes_report: dict[str, Any] = {}
    for strategy in strategies:
        api = _fake_api()
        body = manifest(f"scale-{strategy}", max(sizes) + asks + 10, 1, strategy)
        job = parse_tuningjob(body)
        storage = open_journal_storage(api, job.name, "default", "uid-1")
        study = TuningStudy(job, storage, flush=storage.flush)
        backend = _Backend()
        tuner = Tuner(job, study, backend)
        filled = 0
        for size in sorted(sizes):
            _fill(study, size - filled, seed=size)
            filled = size
            suggest: list[float] = []
            steps: list[float] = []
            for _ in range(asks):
                # One trial is in flight; finish it and time the step that records it and
                # suggests and launches the next (what happens once per trial in the operator).
                result = tuner.step()
                running = [t.number for t in result.trials if t.state.value == "Running"]
                for number in running:
                    backend.finish(number, 0.5)
                began = time.perf_counter()
                result = tuner.step()
                steps.append(time.perf_counter() - began)
                began = time.perf_counter()
                study.ask(1)
                suggest.append(time.perf_counter() - began)
                filled += len(running)
            rows.append(
                CoreRow(
                    strategy,
                    size,
                    statistics.median(suggest) * 1000,
                    statistics.median(steps) * 1000,
                )
            )
            print(
                f"  core {strategy} {size} finished: suggest {rows[-1].suggest_ms:.1f} ms, "
                f"step {rows[-1].step_ms:.1f} ms",
                file=sys.stderr,
                flush=True,
            )
        if strategy == strategies[0]:
            chunks = api.configmaps("default")
            sized = [len(json.dumps(c)) for c in chunks]
            records = study.records()
            status = tuningjob_status(
                job.spec, job.name, records, None, study.started_at, time.time(), 1, None
            )
            sizes_report = {
                "trials": len(records),
                "journal_chunks": len(chunks),
                "largest_chunk_bytes": max(sized),
                "journal_total_bytes": sum(sized),
                "status_bytes": len(json.dumps(status)),
            }
    return rows, sizes_report


# ---- cluster -------------------------------------------------------------------------------
@dataclass
class ProcSample:
    cpu_seconds: float
    peak_rss_mib: float


def proc_sample(pid: int) -> ProcSample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return ProcSample((utime + stime) / CLOCK_TICKS, peak)


@dataclass
class ClusterResult:
    scenario: str
    tuningjobs: int
    trials: int
    wall_seconds: float
    turnaround_ms: list[float]
    trial_cycle_ms: list[float]  # Job created -> its Job Complete (the emulator's part)
    requests: dict[str, int]  # the operator's own client, by verb
    kopf_requests: dict[str, int]  # kopf's (watches, finalizers, annotations)
    cpu_seconds: float
    peak_rss_mib: float
    operator_start_seconds: float
    max_object_bytes: int

    def summary(self) -> dict[str, Any]:
        per_trial = {verb: count / self.trials for verb, count in sorted(self.requests.items())}
        return {
            "scenario": self.scenario,
            "tuningjobs": self.tuningjobs,
            "trials": self.trials,
            "wall_seconds": round(self.wall_seconds, 1),
            "turnaround_ms_median": round(statistics.median(self.turnaround_ms), 1)
            if self.turnaround_ms
            else None,
            "turnaround_ms_p95": round(percentile(self.turnaround_ms, 95), 1)
            if self.turnaround_ms
            else None,
            "emulator_trial_ms_median": round(statistics.median(self.trial_cycle_ms), 1)
            if self.trial_cycle_ms
            else None,
            "requests_per_trial": round(sum(self.requests.values()) / self.trials, 2),
            "requests_per_trial_by_verb": {k: round(v, 2) for k, v in per_trial.items()},
            "kopf_requests_per_trial": round(sum(self.kopf_requests.values()) / self.trials, 2),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "cpu_ms_per_trial": round(self.cpu_seconds * 1000 / self.trials, 1),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "operator_start_seconds": round(self.operator_start_seconds, 2),
            "max_object_bytes": self.max_object_bytes,
        }


def _turnarounds(requests: Sequence[Mapping[str, Any]]) -> list[float]:
    """Job Complete -> the next Job created, in ms, per namespace, from the request log.

    Between two Job creates of a TuningJob (one namespace each here), the Job controller's last
    status write to a Job is the one that marked it Complete: the operator saw it through its
    watch, read the pod log, recorded the result, suggested and created the next Job.
    """
    turnaround: list[float] = []
    last_done: dict[str, float | None] = {}
    for r in sorted(requests, key=lambda r: r["seq"]):
        if r.get("resource") != "jobs" or r.get("code") not in (200, 201):
            continue
        namespace = r["namespace"]
        if r["verb"] == "create" and r["userAgent"] == OPERATOR_AGENT:
            done = last_done.get(namespace)
            if done is not None:
                turnaround.append((r["time"] - done) * 1000)
            last_done[namespace] = None
        elif r.get("subresource") == "status" and r["userAgent"].startswith("kubesim-controller"):
            last_done[namespace] = r["time"]
    return turnaround


def _by_verb(requests: Sequence[Mapping[str, Any]], agent: Callable[[str], bool]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in requests:
        if not agent(r.get("userAgent", "")):
            continue
        what = r["verb"] + (f" {r['resource']}" if r.get("resource") else "")
        if r.get("subresource"):
            what += f"/{r['subresource']}"
        counts[what] = counts.get(what, 0) + 1
    return counts


def cluster_run(
    scenario: str,
    tuningjobs: int,
    trials: int,
    parallel: int,
    algorithm: str = "random",
    work_dir: Path | None = None,
    timeout: float = 3600,
    extra_flags: Sequence[str] = (),
) -> ClusterResult:
    """Run ``tuningjobs`` TuningJobs of ``trials`` trials each through the real operator."""
    sys.path.insert(0, str(REPO_ROOT))
    import kubernetes

    from tests.integration.operator.harness import CRD, Cluster, OperatorProcess
    from tests.kubesim.harness import KubeSim, wait_until
    from tests.tools import ensure_kube_binaries

    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="kubetune-bench-"))
    with KubeSim(controllers=True, work_dir=work_dir / "kubesim", log_level="WARNING") as sim:
        api = kubernetes.config.new_client_from_config(config_file=str(sim.kubeconfig))
        custom = kubernetes.client.CustomObjectsApi(api)
        core = kubernetes.client.CoreV1Api(api)
        _install_crd(api, CRD)
        (work_dir / "operator").mkdir(parents=True, exist_ok=True)
        # As in production (and the tests): the chart's ServiceAccount under its RBAC.
        binaries = ensure_kube_binaries()
        Cluster(sim, binaries["kubectl"]).install_operator_rbac(binaries["helm"])
        began = time.perf_counter()
        operator = OperatorProcess(sim, work_dir / "operator", *extra_flags).start()
        started = time.perf_counter() - began
        assert operator.process is not None
        pid = operator.process.pid
        try:
            before = proc_sample(pid)
            sim.clear_requests()
            names = [f"{scenario}-{i}" for i in range(tuningjobs)]
            t0 = time.perf_counter()
            for index, name in enumerate(names):
                namespace = _namespace(index, tuningjobs)
                if namespace != "default":
                    core.create_namespace({"metadata": {"name": namespace}})
                custom.create_namespaced_custom_object(
                    "kubetune.io",
                    "v1alpha1",
                    namespace,
                    "tuningjobs",
                    manifest(name, trials, parallel, algorithm, namespace),
                )

            def finished() -> bool:
                done = 0
                for index, name in enumerate(names):
                    namespace = _namespace(index, tuningjobs)
                    obj = custom.get_namespaced_custom_object(
                        "kubetune.io", "v1alpha1", namespace, "tuningjobs", name
                    )
                    conditions = (obj.get("status") or {}).get("conditions") or []
                    if any(
                        c["type"] in ("Complete", "Failed") and c["status"] == "True"
                        for c in conditions
                    ):
                        done += 1
                return done == len(names)

            wait_until(finished, timeout=timeout, interval=0.5, message=f"{scenario} complete")
            wall = time.perf_counter() - t0
            time.sleep(1.0)  # let the last status patches land
            after = proc_sample(pid)
            requests = sim.requests()
            biggest = _largest_object(api, names)
        finally:
            operator.stop()
    turnaround = _turnarounds(requests)
    cycles = _trial_cycles(requests)
    return ClusterResult(
        scenario=scenario,
        tuningjobs=tuningjobs,
        trials=tuningjobs * trials,
        wall_seconds=wall,
        turnaround_ms=turnaround,
        trial_cycle_ms=cycles,
        requests=_by_verb(requests, lambda agent: agent == OPERATOR_AGENT),
        kopf_requests=_by_verb(requests, lambda agent: agent.startswith("kopf")),
        cpu_seconds=after.cpu_seconds - before.cpu_seconds,
        peak_rss_mib=after.peak_rss_mib,
        operator_start_seconds=started,
        max_object_bytes=biggest,
    )


def _namespace(index: int, count: int) -> str:
    return "default" if count == 1 else f"ns-{index}"


def _install_crd(api: Any, crd: Path) -> None:
    import kubernetes
    import yaml

    from tests.kubesim.harness import wait_until

    ext = kubernetes.client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(yaml.safe_load(crd.read_text()))
    wait_until(
        lambda: any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition("tuningjobs.kubetune.io").status.conditions
            or []
        ),
        timeout=30,
    )


def _largest_object(api: Any, names: Sequence[str]) -> int:
    """The size, as JSON, of the largest TuningJob or ConfigMap (the study journal)."""
    import kubernetes

    custom = kubernetes.client.CustomObjectsApi(api)
    core = kubernetes.client.CoreV1Api(api)
    biggest = 0
    for index, name in enumerate(names):
        namespace = _namespace(index, len(names))
        obj = custom.get_namespaced_custom_object(
            "kubetune.io", "v1alpha1", namespace, "tuningjobs", name
        )
        biggest = max(biggest, len(json.dumps(obj)))
        for cm in core.list_namespaced_config_map(namespace).items:
            biggest = max(biggest, len(json.dumps(api.sanitize_for_serialization(cm))))
    return biggest


def _trial_cycles(requests: Sequence[Mapping[str, Any]]) -> list[float]:
    """Per Job: first controller status write -> last one (the emulator running the pod)."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for r in requests:
        if (
            r.get("resource") == "jobs"
            and r.get("subresource") == "status"
            and r["userAgent"].startswith("kubesim-controller")
        ):
            key = f"{r['namespace']}/{r['name']}"
            first.setdefault(key, r["time"])
            last[key] = r["time"]
    return [(last[k] - first[k]) * 1000 for k in first]


def import_costs(repeats: int = 3) -> dict[str, Any]:
    """What starting the operator imports, and what PyTorch would add if it were imported.

    Each figure is the median of ``repeats`` fresh interpreters. ``torch_loaded_at_start`` must
    be False: the operator imports PyTorch only at its first Gaussian-process suggestion.
    """
    import subprocess

    def timed(code: str) -> tuple[float, str]:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
        )
        seconds, flag = result.stdout.split()
        return float(seconds), flag

    operator = (
        "import time,sys; t=time.perf_counter(); import kubetune.cli.main, kubetune.operator.run,"
        " kubetune.operator.main, kubetune.search.study, kubetune.search.auto;"
        " print(time.perf_counter()-t, 'torch' in sys.modules)"
    )
    torch = (
        "import time,sys; import kubetune.operator.main; t=time.perf_counter(); import torch;"
        " print(time.perf_counter()-t, 'torch' in sys.modules)"
    )
    runs = [timed(operator) for _ in range(repeats)]
    torch_runs = [timed(torch) for _ in range(repeats)] if _has_torch() else []
    return {
        "operator_imports_seconds": round(statistics.median(r[0] for r in runs), 2),
        "torch_loaded_at_start": runs[0][1] == "True",
        "torch_import_seconds": round(statistics.median(r[0] for r in torch_runs), 2)
        if torch_runs
        else None,
    }


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


# ---- reporting -----------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=["core", "cluster", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="smoke-sized")
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--strategies", default="bayesian,random")
    parser.add_argument("--trials", type=int, default=1000, help="trials of the 1-TuningJob run")
    parser.add_argument("--algorithm", default="random", help="strategy of the cluster runs")
    parser.add_argument("--fleet", default="50x10", help="TuningJobs x parallel trials")
    parser.add_argument("--fleet-trials", type=int, default=20, help="trials per fleet TuningJob")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    fleet_jobs, fleet_parallel = (int(x) for x in args.fleet.split("x"))
    trials, fleet_trials = args.trials, args.fleet_trials
    if args.quick:
        sizes, trials = [10, 100], 20
        fleet_jobs, fleet_parallel, fleet_trials = 3, 2, 4
    report: dict[str, Any] = {"machine": machine()}
    print(describe(report["machine"]))
    if args.part in ("core", "all"):
        rows, objects = core_latency(sizes, args.strategies.split(","))
        report["core"] = [row.__dict__ for row in rows]
        report["objects_at_scale"] = objects
        print("| strategy | finished trials | suggestion ms | reconcile step ms |")
        print("|---|---|---|---|")
        for row in rows:
            print(
                f"| {row.strategy} | {row.finished:,} | {row.suggest_ms:.1f} | {row.step_ms:.1f} |"
            )
        print(f"\nobjects after {objects['trials']:,} trials: {json.dumps(objects)}")
    if args.part in ("cluster", "all"):
        results = [
            cluster_run("single", 1, trials, 1, args.algorithm),
            cluster_run("fleet", fleet_jobs, fleet_trials, fleet_parallel, args.algorithm),
        ]
        report["cluster"] = [r.summary() for r in results]
        report["imports"] = import_costs()
        print(json.dumps(report["imports"]))
        for r in results:
            print(json.dumps(r.summary(), indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
