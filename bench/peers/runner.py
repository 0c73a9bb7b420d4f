"""The peer optimizers' side of ``bench.peers.driver``: runs ONLY in a peer's benchmark
virtualenv (``bench/peers/setup.sh``), never in the project's: it imports Ax or HEBO (and so
PyTorch), nothing of kubetune.

    .cache/bench-peers/ax/bin/python -m bench.peers.runner ax

Protocol, one JSON object per line. First the driver sends the problem:
``{"parameters": [kubetune parameter specs], "seed": 0}``; then requests:
``{"ask": k}`` -> ``{"trials": [{"id": 3, "params": {...}}, ...], "seconds": s}`` (Ax may return
fewer than k while its start-up design waits for results; HEBO always returns k);
``{"tell": [{"id": 3, "value": 1.5}, ...]}`` -> ``{"seconds": s}``. The objective is minimized.
The driver evaluates every point itself, so peers and kubetune see the very same objective.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
warnings.filterwarnings("ignore")


class AxPeer:
    """Ax's default client API (``ax.api.Client``): its default generation strategy (Sobol,
    then BoTorch's GP with log-noisy-expected-improvement); pending trials are Ax's to handle."""

    def __init__(self, parameters: list[dict[str, Any]], seed: int) -> None:
        import logging

        from ax.api.client import Client  # type: ignore[import-not-found]
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig  # type: ignore[import-not-found]

        logging.disable(logging.WARNING)
        configs: list[Any] = []
        self.kinds = {p["name"]: p["type"] for p in parameters}
        for p in parameters:
            if p["type"] == "categorical":
                configs.append(
                    ChoiceParameterConfig(
                        name=p["name"],
                        parameter_type="str",
                        values=[str(v) for v in p["values"]],
                        is_ordered=False,
                    )
                )
                continue
            configs.append(
                RangeParameterConfig(
                    name=p["name"],
                    parameter_type="int" if p["type"] == "int" else "float",
                    bounds=(p["min"], p["max"]),
                    scaling="log" if p.get("scale") == "log" else "linear",
                )
            )
        self.choices = {p["name"]: p["values"] for p in parameters if p["type"] == "categorical"}
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=configs, name="bench")
        self.client.configure_optimization(objective="-objective")

    def ask(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        trials = self.client.get_next_trials(max_trials=count)
        return [(index, self._external(params)) for index, params in trials.items()]

    def _external(self, params: dict[str, Any]) -> dict[str, Any]:
        out = dict(params)
        for name, values in self.choices.items():
            out[name] = next(v for v in values if str(v) == str(params[name]))
        return out

    def tell(self, results: list[tuple[int, float]]) -> None:
        for index, value in results:
            self.client.complete_trial(trial_index=index, raw_data={"objective": value})


class HeboPeer:
    """HEBO 0.3.6 with its defaults (``HEBO(space)``: a warped GP, the MACE acquisition
    ensemble, batches from its Pareto front). It has no notion of pending points, so the driver
    gives it synchronous batches of ``parallelTrials``."""

    def __init__(self, parameters: list[dict[str, Any]], seed: int) -> None:
        import numpy as np
        import torch  # type: ignore[import-not-found]
        from hebo.design_space.design_space import DesignSpace  # type: ignore[import-not-found]
        from hebo.optimizers.hebo import HEBO  # type: ignore[import-not-found]

        np.random.seed(seed)
        torch.manual_seed(seed)
        specs = []
        for p in parameters:
            if p["type"] == "categorical":
                specs.append(
                    {"name": p["name"], "type": "cat", "categories": [str(v) for v in p["values"]]}
                )
            elif p["type"] == "int":
                specs.append({"name": p["name"], "type": "int", "lb": p["min"], "ub": p["max"]})
            elif p.get("scale") == "log":
                specs.append({"name": p["name"], "type": "pow", "lb": p["min"], "ub": p["max"]})
            else:
                specs.append({"name": p["name"], "type": "num", "lb": p["min"], "ub": p["max"]})
        self.choices = {p["name"]: p["values"] for p in parameters if p["type"] == "categorical"}
        self.kinds = {p["name"]: p["type"] for p in parameters}
        self.hebo = HEBO(DesignSpace().parse(specs), scramble_seed=seed)
        self.pending: dict[int, Any] = {}
        self.next_id = 0

    def ask(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        frame = self.hebo.suggest(n_suggestions=count)
        out = []
        for i in range(len(frame)):
            row = frame.iloc[[i]]
            params: dict[str, Any] = {}
            for name, value in row.iloc[0].items():
                if name in self.choices:
                    params[name] = next(v for v in self.choices[name] if str(v) == str(value))
                elif self.kinds[name] == "int":
                    params[name] = int(value)
                else:
                    params[name] = float(value)
            self.pending[self.next_id] = row
            out.append((self.next_id, params))
            self.next_id += 1
        return out

    def tell(self, results: list[tuple[int, float]]) -> None:
        import numpy as np
        import pandas as pd  # type: ignore[import-untyped]

        rows = pd.concat([self.pending.pop(index) for index, _ in results])
        values = np.array([[value] for _, value in results], dtype=float)
        self.hebo.observe(rows, values)


PEERS = {"ax": AxPeer, "hebo": HeboPeer}


def main() -> int:
    # The protocol keeps the real stdout; anything the peers print (HEBO does) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    peer_name = sys.argv[1]
    problem = json.loads(sys.stdin.readline())
    peer = PEERS[peer_name](problem["parameters"], int(problem["seed"]))
    print(json.dumps({"ready": True}), file=protocol, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        begun = time.perf_counter()
        if "ask" in request:
            trials = peer.ask(int(request["ask"]))
            reply: dict[str, Any] = {"trials": [{"id": i, "params": p} for i, p in trials]}
        else:
            peer.tell([(int(r["id"]), float(r["value"])) for r in request["tell"]])
            reply = {}
        reply["seconds"] = time.perf_counter() - begun
        print(json.dumps(reply), file=protocol, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
