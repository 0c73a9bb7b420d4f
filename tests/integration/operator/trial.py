"""A real trial for the operator tests: reads its parameters, prints metrics, or misbehaves."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--layers", type=int, required=True)
    args = parser.parse_args()
    params = json.loads(os.environ["KUBETUNE_PARAMS"])
    assert params == {"x": args.x, "layers": args.layers}, params
    assert os.environ["KUBETUNE_TRIAL_NAME"].endswith("-" + os.environ["KUBETUNE_TRIAL_NUMBER"])
    if args.mode == "slow":
        time.sleep(float(os.environ.get("TRIAL_SECONDS", "1.0")))
    if args.mode == "hang":
        time.sleep(600)
    if args.mode == "fail":
        print("diverged", file=sys.stderr)
        sys.exit(2)
    loss = (args.x - 0.3) ** 2 + 0.01 * args.layers
    if args.mode == "ranks":  # every rank above 0 of an Indexed Job reports a better loss
        loss -= 0.5 * int(os.environ.get("JOB_COMPLETION_INDEX", "0"))
    for epoch in range(3):
        print(f"epoch={epoch} loss={loss + (2 - epoch) * 0.1:.6f}", flush=True)
    print(f"loss={loss:.6f} accuracy={1 - loss:.6f}", flush=True)


if __name__ == "__main__":
    main()
