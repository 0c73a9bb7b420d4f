"""Faults end to end: the unmodified operator against kubesim with seeded API faults.

For each kind of fault, one emulator and one ``kubetune operator`` process (leader-elected, as
the chart runs it) go through ``--runs`` TuningJobs one after the other; while each runs, a
seeded schedule injects that kind of fault into the operator's requests only (user agents
``kubetune...`` and ``kopf/...``: the emulator's own Job controller and kubelet stay healthy, so
what is measured is the operator's recovery). Per kind, over the runs:

* lost: trials that never got a recorded result (maxTrials minus succeeded + failed), goal 0;
* duplicated: trial Jobs created more than once (201 answers beyond one per trial), goal 0;
* failed: trials recorded as failed (a fault must not fail a trial either);
* slowdown: median wall time against the median of the fault-free runs (goal <= 2x);
* requests/s: the operator's request rate (bounded: retries back off).

    python -m bench.faults                       # every kind, 20 runs each (~25 min on 2 cores)
    python -m bench.faults --runs 3 --kinds none,pods-log-errors
    python -m bench.faults --quick               # 2 runs of each kind

``api-restart`` is the one fault that hits every client, not just the operator: the emulator's
API server restarts from its state directory (objects, uids and resourceVersions kept, every
connection and watch cut, the port closed for 1-2 s, watch history gone so resumes get 410),
while its kubelet keeps the trial pods running, as when a real kube-apiserver restarts (see
tests/kubesim/README.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import describe, machine, tuningjob

REPO_ROOT = Path(__file__).resolve().parents[1]
OPERATOR_AGENTS = r"^(kubetune|kopf/)"
TRIALS = 12
PARALLEL = 3
RUN_TIMEOUT_SECONDS = 240.0
PARAMETERS: list[dict[str, Any]] = [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}]
TRIAL_CONTAINER: dict[str, Any] = {
    "name": "train",
    "image": "example.com/noop:1",
    "command": ["sh", "-c", "sleep 1; echo step=1 loss=${params.x}; echo loss=${params.x}"],
}


class Schedule:
    """Injects one kind of fault at seeded moments until stopped (runs in its own thread)."""

    def __init__(self, sim: Any, kind: str, seed: int) -> None:
        self.sim = sim
        self.kind = kind
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.injected = 0

    def __enter__(self) -> Schedule:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sim.clear_faults()

    def _sleep(self, seconds: float) -> bool:
        return not self._stop.wait(seconds)

    def _window(self, seconds: float, **rule: Any) -> None:
        """Every matching operator request fails (or is slowed) for ``seconds``."""
        added = self.sim.faults(user_agent_regex=OPERATOR_AGENTS, count=-1, **rule)
        self.injected += 1
        self._stop.wait(seconds)
        self.sim._control("DELETE", f"faults/{added['id']}")

    def _run(self) -> None:
        action = ACTIONS[self.kind]
        if action is None:
            return
        gap = self.rng.uniform(0.5, 1.5)  # the first fault comes early: runs last ~6 s
        while self._sleep(gap):
            action(self)
            gap = self.rng.uniform(4.0, 8.0)  # sparse: one fault every few seconds


def _bursts_5xx(s: Schedule) -> None:
    s._window(s.rng.uniform(1.0, 3.0), status=s.rng.choice([500, 503]))


def _throttled(s: Schedule) -> None:
    s._window(s.rng.uniform(1.0, 3.0), status=429, retry_after=1)


def _write_conflicts(s: Schedule) -> None:
    target = s.rng.choice(
        [
            {"resource": "tuningjobs", "subresource": "status"},
            {"resource": "configmaps", "verb": "patch"},
        ]
    )
    s.sim.faults(user_agent_regex=OPERATOR_AGENTS, status=409, count=s.rng.randint(1, 3), **target)
    s.injected += 1


def _cut_watches(s: Schedule) -> None:
    s.injected += s.sim.drop_watches(user_agent_regex=OPERATOR_AGENTS, abort=s.rng.random() < 0.5)


def _gone_on_resume(s: Schedule) -> None:
    s.sim.compact()  # resuming any earlier resourceVersion now answers 410 Gone
    s.injected += s.sim.drop_watches(user_agent_regex=OPERATOR_AGENTS)


def _latency(s: Schedule) -> None:
    s._window(s.rng.uniform(2.0, 4.0), latency_ms=s.rng.uniform(1000, 2000))


def _pod_log_errors(s: Schedule) -> None:
    s._window(3.0, resource="pods", subresource="log", status=s.rng.choice([500, 503]))


def _api_restart(s: Schedule) -> None:
    s.sim.restart_api(downtime=s.rng.uniform(1.0, 2.0))  # returns once it serves again
    s.injected += 1


ACTIONS: dict[str, Callable[[Schedule], None] | None] = {
    "none": None,
    "5xx-bursts": _bursts_5xx,
    "429-retry-after": _throttled,
    "409-on-writes": _write_conflicts,
    "cut-watches": _cut_watches,
    "410-on-resume": _gone_on_resume,
    "latency-1-2s": _latency,
    "pods-log-errors": _pod_log_errors,
    "api-restart": _api_restart,
}


@dataclass
class Run:
    kind: str
    seed: int
    finished: bool
    wall_seconds: float
    succeeded: int
    failed: int
    duplicated: int
    requests: int
    faults: int
    restarts: int = 0

    @property
    def lost(self) -> int:
        return TRIALS - self.succeeded - self.failed


def run_kind(kind: str, runs: int, work_dir: Path) -> list[Run]:
    sys.path.insert(0, str(REPO_ROOT))
    import kubernetes

    from tests.integration.operator.harness import CRD, Cluster, OperatorProcess
    from tests.kubesim.harness import KubeSim, wait_until
    from tests.tools import ensure_kube_binaries

    results = []
    with KubeSim(controllers=True, work_dir=work_dir / kind, log_level="WARNING") as sim:
        api = kubernetes.config.new_client_from_config(config_file=str(sim.kubeconfig))
        custom = kubernetes.client.CustomObjectsApi(api)
        from bench.operator import _install_crd

        _install_crd(api, CRD)
        binaries = ensure_kube_binaries()  # the chart's ServiceAccount under its RBAC
        Cluster(sim, binaries["kubectl"]).install_operator_rbac(binaries["helm"])
        operator = OperatorProcess(sim, work_dir / kind).start()
        wait_until(operator.leading, timeout=60, message="the operator leads")
        supervisor = Supervisor(operator).start()
        try:
            for seed in range(runs):
                name = f"{kind}-{seed}"
                since = sim.requests()[-1]["seq"] if sim.requests() else 0
                body = tuningjob(
                    name,
                    PARAMETERS,
                    metric="loss",
                    trials=TRIALS,
                    parallel=PARALLEL,
                    seed=seed,
                    container=TRIAL_CONTAINER,
                )
                began = time.perf_counter()
                with Schedule(sim, kind, seed) as schedule:
                    custom.create_namespaced_custom_object(
                        "kubetune.io", "v1alpha1", "default", "tuningjobs", body
                    )
                    status = _wait_done(custom, name, RUN_TIMEOUT_SECONDS)
                wall = time.perf_counter() - began
                log = sim.requests(since=since)
                result = _measure(kind, seed, status, wall, log, name, schedule.injected)
                result.restarts = supervisor.take_restarts()
                results.append(result)
                print(f"  {kind} seed {seed}: {results[-1]}", file=sys.stderr, flush=True)
        finally:
            supervisor.stop()
            operator.stop()
    return results


class Supervisor:
    """Restarts the operator when it exits, as its Deployment would (an operator that cannot
    renew its Lease through an API outage exits on purpose)."""

    def __init__(self, operator: Any) -> None:
        self.operator = operator
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def take_restarts(self) -> int:
        restarts, self.restarts = self.restarts, 0
        return restarts

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            process = self.operator.process
            if process is not None and process.poll() is not None:
                self.restarts += 1
                self.operator.start(wait_ready=False)


def _wait_done(custom: Any, name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            obj = custom.get_namespaced_custom_object(
                "kubetune.io", "v1alpha1", "default", "tuningjobs", name
            )
        except Exception:  # the bench's own reads are not faulted, but keep going regardless
            time.sleep(0.2)
            continue
        status = obj.get("status") or {}
        if any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True"
            for c in status.get("conditions") or []
        ):
            status["finished"] = True
            return status
        time.sleep(0.2)
    return status


def _measure(
    kind: str,
    seed: int,
    status: dict[str, Any],
    wall: float,
    log: Sequence[dict[str, Any]],
    name: str,
    injected: int,
) -> Run:
    trials = status.get("trials") or {}
    created = [
        r["path"]
        for r in log
        if r["verb"] == "create"
        and r["resource"] == "jobs"
        and r["code"] == 201
        and r["userAgent"].startswith("kubetune")
    ]
    operator_requests = [r for r in log if r["userAgent"].startswith(("kubetune", "kopf/"))]
    jobs = trials.get("total", 0)
    return Run(
        kind=kind,
        seed=seed,
        finished=bool(status.get("finished")),
        wall_seconds=wall,
        succeeded=int(trials.get("succeeded", 0)),
        failed=int(trials.get("failed", 0)),
        duplicated=max(0, len(created) - max(jobs, len(set(created)))),
        requests=len(operator_requests),
        faults=injected,
    )


def table(results: dict[str, list[Run]]) -> str:
    baseline = (
        statistics.median(r.wall_seconds for r in results.get("none", []))
        if (results.get("none"))
        else None
    )
    lines = [
        "| fault | runs | finished | lost | duplicated | failed | median wall (s) | slowdown "
        "| worst slowdown | requests/s | operator restarts |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, runs in results.items():
        walls = [r.wall_seconds for r in runs]
        median = statistics.median(walls)
        slow = f"{median / baseline:.2f}x" if baseline else "-"
        worst = f"{max(walls) / baseline:.2f}x" if baseline else "-"
        rate = sum(r.requests for r in runs) / sum(walls)
        lines.append(
            f"| {kind} | {len(runs)} | {sum(r.finished for r in runs)} | "
            f"{sum(r.lost for r in runs)} | {sum(r.duplicated for r in runs)} | "
            f"{sum(r.failed for r in runs)} | {median:.1f} | {slow} | {worst} | {rate:.1f} | "
            f"{sum(r.restarts for r in runs)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kinds", default=",".join(ACTIONS))
    parser.add_argument("--quick", action="store_true", help="2 runs of each kind")
    args = parser.parse_args(argv)
    runs = 2 if args.quick else args.runs
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(ACTIONS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(ACTIONS)}")
    if "none" in kinds:  # the baseline first
        kinds.remove("none")
        kinds.insert(0, "none")
    print(describe(machine()))
    print(f"\n{TRIALS} trials, {PARALLEL} in parallel, {runs} seeded runs per kind\n")
    work_dir = Path(tempfile.mkdtemp(prefix="kubetune-faults-"))
    results = {kind: run_kind(kind, runs, work_dir) for kind in kinds}
    print(table(results))
    bad = any(r.lost or r.duplicated for runs_ in results.values() for r in runs_)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
