"""A trial with a learning curve: ``loss = x + 1/(step+1)`` printed step by step, slowly
enough for early stopping to catch it while it runs; or pushed to a Prometheus Pushgateway."""

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
    args = parser.parse_args()
    push = None
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
        print(f"step={step} loss={loss:.6f}", flush=True)
        if push is not None:
            push(step, loss)
        time.sleep(args.seconds_per_step)


if __name__ == "__main__":
    main()
