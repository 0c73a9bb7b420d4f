"""Runs a peer optimizer (Ax, HEBO) on a ``bench/search.py`` benchmark, from the project's own
virtualenv: the peer itself runs in a subprocess of its benchmark virtualenv
(``bench/peers/runner.py``; ``bench/peers/setup.sh`` builds them), which only suggests; every
point is evaluated here, by the same objective, noise stream and stopping rule kubetune's runs use.

Parallel trials follow the same schedule as kubetune's in-memory backend where the peer allows
it: Ax keeps ``parallelTrials`` trials in flight, the oldest finishes, its result is told and one
new trial is asked while the others still run (Ax conditions on pending trials itself). HEBO has
no notion of pending points, so it runs synchronous batches of ``parallelTrials``: ask a batch,
finish all of it, tell it. That is easier than the asynchronous schedule (a batch's last point
is suggested with nothing pending, not N-1), so HEBO's parallel figures flatter it slightly.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
PEER_ROOT = Path(os.environ.get("KUBETUNE_BENCH_PEERS", REPOSITORY / ".cache" / "bench-peers"))
"""Where ``bench/peers/setup.sh`` put the peers' virtualenvs (``<root>/ax``, ``<root>/hebo``)."""

PEERS = ("ax", "hebo")
SYNCHRONOUS = {"hebo"}  # peers given whole batches (no pending-point support)


class PeerUnavailable(RuntimeError):
    """The peer's benchmark virtualenv is missing: run ``bench/peers/setup.sh``."""


class PeerProcess:
    """One peer optimizer in its own virtualenv, spoken to over pipes (one JSON per line)."""

    def __init__(self, peer: str, parameters: list[dict[str, Any]], seed: int) -> None:
        python = PEER_ROOT / peer / "bin" / "python"
        if not python.exists():
            raise PeerUnavailable(f"{python} not found: run bench/peers/setup.sh first")
        env = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1"}
        env["MKL_NUM_THREADS"] = "1"
        # The peer's chatter (HEBO prints), kept aside and shown if it fails.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(
            [str(python), "-m", "bench.peers.runner", peer],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
            cwd=REPOSITORY,
        )
        self.seconds = 0.0  # the peer's own time suggesting and learning (its ask + tell)
        self._send({"parameters": parameters, "seed": seed})

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read()[-3000:]
            raise RuntimeError(f"peer exited with {self.process.wait()}:\n{tail}")
        reply: dict[str, Any] = json.loads(line)
        self.seconds += float(reply.get("seconds", 0.0))
        return reply

    def ask(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        reply = self._send({"ask": count})
        return [(int(t["id"]), t["params"]) for t in reply["trials"]]

    def tell(self, results: list[tuple[int, float]]) -> None:
        self._send({"tell": [{"id": i, "value": v} for i, v in results]})

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()


def run_peer(
    peer: str,
    parameters: list[dict[str, Any]],
    evaluate: Callable[[dict[str, Any]], float],
    *,
    seed: int,
    parallel: int,
    budget: int,
    reached: Callable[[], bool],
) -> float:
    """Runs ``peer`` until ``budget`` trials have finished or ``reached()`` says the target was
    met; ``evaluate`` records and returns each result. Returns the peer's suggestion seconds."""
    process = PeerProcess(peer, parameters, seed)
    try:
        finished = 0
        if peer in SYNCHRONOUS:
            while finished < budget and not reached():
                batch = process.ask(min(parallel, budget - finished))
                results = [(i, evaluate(params)) for i, params in batch]
                finished += len(results)
                process.tell(results)
            return process.seconds
        in_flight: list[tuple[int, dict[str, Any]]] = []
        asked = 0
        while finished < budget and not reached():
            while len(in_flight) < parallel and asked < budget:
                new = process.ask(1)
                if not new:
                    break  # the peer waits for results (e.g. Ax between its stages)
                in_flight += new
                asked += len(new)
            if not in_flight:
                raise RuntimeError(f"{peer}: nothing in flight and nothing suggested")
            index, params = in_flight.pop(0)
            process.tell([(index, evaluate(params))])
            finished += 1
        return process.seconds
    finally:
        process.close()
