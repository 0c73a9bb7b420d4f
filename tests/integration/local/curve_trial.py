"""A trial with a learning curve: ``loss = x + 1/(step+1)`` printed step by step, slowly
enough for early stopping to catch it while it runs; or reported to Prometheus instead: pushed
to a Pushgateway (``trial_loss{step="N"}``, grouped by trial name) or served on ``/metrics``
(``trial_loss``, scraped by Prometheus)."""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seconds-per-step", type=float, default=0.15)
    parser.add_argument("--pushgateway", default="")
    parser.add_argument("--serve-port", type=int, default=0)
    parser.add_argument("--linger", type=float, default=0.0)
    args = parser.parse_args()
    push = None
    if args.serve_port:
        from prometheus_client import Gauge, start_http_server

        served = Gauge("trial_loss", "The trial's loss")
        start_http_server(args.serve_port, addr="127.0.0.1")

        def push(step: int, value: float) -> None:
            served.set(value)

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
                grouping_key={"trial": os.environ["KUBETUNE_TRIAL_NAME"]},
                registry=registry,
            )

    for step in range(args.steps):
        loss = args.x + 1 / (step + 1)
        if push is None:
            print(f"step={step} loss={loss:.6f}", flush=True)
        else:
            push(step, loss)
            print(f"reported step {step}", flush=True)  # nothing for a log parser to find
        time.sleep(args.seconds_per_step)
    time.sleep(args.linger)  # e.g. until Prometheus scraped the last value


if __name__ == "__main__":
    main()
