"""A trial with a learning curve: ``loss = x + 1/(step+1)`` printed step by step, slowly
enough for early stopping to catch it while it runs; or reported to Prometheus instead: pushed
to a Pushgateway (``trial_loss{step="N"}``, grouped by trial name) or served on ``/metrics``
(``trial_loss``, scraped by Prometheus).

``--serve`` listens on a port of its own choosing (port 0), so it needs ``--gate-dir``: the trial
writes the port to ``<dir>/<trial name>.port``, waits for ``<trial name>.start`` before its first
step (Prometheus scrapes it by then), writes its final loss to ``<trial name>.final`` and waits
for ``<trial name>.done`` before it exits (Prometheus holds that value by then). The test's half
is ``tests.prometheus_stack.PrometheusStack.scrape_gated_trial``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

GATE_TIMEOUT = 120.0  # the test opens both gates even when it fails: this is a last resort


def write_file(path: Path, text: str) -> None:
    """Write ``path`` whole at once (by renaming), for a reader polling for it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.rename(path)


def wait_for_gate(path: Path) -> None:
    deadline = time.monotonic() + GATE_TIMEOUT
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"{path} did not appear within {GATE_TIMEOUT}s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seconds-per-step", type=float, default=0.15)
    parser.add_argument("--pushgateway", default="")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--gate-dir", type=Path)
    args = parser.parse_args()
    trial = os.environ.get("KUBETUNE_TRIAL_NAME", "trial")  # set by kubetune, locally too

    def gate(kind: str) -> Path:
        directory: Path = args.gate_dir
        return directory / f"{trial}.{kind}"

    push = None
    if args.serve:
        from prometheus_client import REGISTRY, Gauge, start_http_server

        if args.gate_dir is None:
            parser.error("--serve needs --gate-dir, to say which port it listens on")
        # registered at the first value: before it, a scrape finds no series (not a 0)
        served = Gauge("trial_loss", "The trial's loss", registry=None)
        server, _ = start_http_server(0, addr="127.0.0.1")
        write_file(gate("port"), str(server.server_port))

        def push(step: int, value: float) -> None:
            served.set(value)
            if step == 0:
                REGISTRY.register(served)

    if args.pushgateway:
        from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

        registry = CollectorRegistry()
        gauge = Gauge("trial_loss", "The trial's loss", ["step"], registry=registry)

        def push(step: int, value: float) -> None:
            gauge.clear()
            gauge.labels(step=str(step)).set(value)
            push_to_gateway(
                args.pushgateway,
                job="kubetune",
                grouping_key={"trial": trial},
                registry=registry,
            )

    if args.gate_dir is not None:
        wait_for_gate(gate("start"))
    loss = None
    for step in range(args.steps):
        loss = args.x + 1 / (step + 1)
        if push is None:
            print(f"step={step} loss={loss:.6f}", flush=True)
        else:
            push(step, loss)
            print(f"reported step {step}", flush=True)  # nothing for a log parser to find
        time.sleep(args.seconds_per_step)
    if args.gate_dir is not None:
        write_file(gate("final"), repr(loss))
        wait_for_gate(gate("done"))


if __name__ == "__main__":
    main()
