"""A multi-pod trial for the local runner: each completion index reports its own loss.

Index ``i`` prints ``loss=<1 - 0.4 i>``, so every index above 0 reports a better value than
index 0; the trial's objective must still be index 0's. ``--mode sigkill`` makes index 0 kill
itself with SIGKILL, as the OOM killer (or anyone outside kubetune) would.
"""

from __future__ import annotations

import argparse
import os
import signal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--x", type=float, required=True)
    args = parser.parse_args()
    index = int(os.environ.get("JOB_COMPLETION_INDEX", "0"))
    if args.mode == "sigkill" and index == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    print(f"rank={index} loss={1.0 - 0.4 * index}", flush=True)


if __name__ == "__main__":
    main()
