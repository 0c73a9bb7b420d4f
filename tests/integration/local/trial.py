"""A small real trial for the local-runner tests.

It reads its parameters from ``KUBETUNE_PARAMS`` and behaves as ``--mode`` says: report a
quadratic loss, fail, hang (with a child process, to prove the whole tree is killed), report
nothing, report NaN, or print a huge line before its metric.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--pid-dir", default="")
    args = parser.parse_args()
    params = json.loads(os.environ["KUBETUNE_PARAMS"])
    assert abs(params["x"] - args.x) < 1e-9, (params, args.x)
    number = os.environ["KUBETUNE_TRIAL_NUMBER"]
    loss = (args.x - 0.3) ** 2

    if args.mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        if args.pid_dir:
            with open(os.path.join(args.pid_dir, f"{number}.pid"), "w") as handle:
                handle.write(f"{os.getpid()} {child.pid}")
        time.sleep(600)
    if args.mode == "slow":
        time.sleep(float(os.environ.get("TRIAL_SECONDS", "0.5")))
    if args.mode == "fail":
        print("training blew up", file=sys.stderr)
        sys.exit(3)
    if args.mode == "silent":
        print("finished without a metric")
        return
    if args.mode == "nan":
        print("loss=nan")
        return
    if args.mode == "long-line":  # LONG_LINE_MB of output without a newline, then the metric
        chunk = b"x" * (1024 * 1024)
        for _ in range(int(os.environ.get("LONG_LINE_MB", "50"))):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"\nloss=0.5\n")
        return
    for step in range(3):
        print(f"step={step} loss={loss + (2 - step) * 0.1:.6f}")
    print(json.dumps({"loss": loss, "x_seen": args.x}))


if __name__ == "__main__":
    main()
