"""Data-parallel training across the pods of an Indexed Job, with torchrun on the CPU.

Started once per pod (``completionMode: Indexed``). Without torchrun's environment it is the
*launcher*: it works out this pod's node rank (``JOB_COMPLETION_INDEX``, set by the Job
controller, or by ``kubetune run`` for each local process) and the rendezvous address, then
replaces itself with ``torchrun`` running this same file as the *worker*. On a cluster the
address is pod 0's stable DNS name, ``<trial Job>-0.<subdomain>`` (the Job controller sets each
pod's hostname to ``<job>-<index>``; ``SUBDOMAIN`` names the headless Service the pods join);
under ``kubetune run`` all ranks are local processes and meet on 127.0.0.1.

The workers train a small classifier on scikit-learn's bundled digits with DistributedDataParallel
(gloo backend, CPU), each on its shard of the data. Only rank 0 prints metrics, as JSON lines:
``{"epoch": 3, "val_loss": 0.21, "val_accuracy": 0.94}``, the log kubetune reads (an Indexed
Job's metrics come from completion index 0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def launch(argv: list[str]) -> None:
    nodes = os.environ.get("NODES", "1")
    rank = os.environ.get("JOB_COMPLETION_INDEX", "0")
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        master = f"{os.environ['KUBETUNE_TRIAL_NAME']}-0.{os.environ['SUBDOMAIN']}"
    else:
        master = "127.0.0.1"
    port = os.environ.get("MASTER_PORT", "29500")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes}",
        "--nproc-per-node=1",
        f"--node-rank={rank}",
        f"--master-addr={master}",
        f"--master-port={port}",
        __file__,
        *argv,
    ]
    os.execv(sys.executable, command)


def train(args: argparse.Namespace) -> None:
    import torch
    import torch.distributed as dist
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    features, labels = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features / 16.0, labels, test_size=0.25, random_state=0
    )
    xt = torch.tensor(x_train[rank::world], dtype=torch.float32)
    yt = torch.tensor(y_train[rank::world], dtype=torch.long)
    xv = torch.tensor(x_valid, dtype=torch.float32)
    yv = torch.tensor(y_valid, dtype=torch.long)
    model = DistributedDataParallel(
        nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch in torch.randperm(len(xt)).split(32):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()  # gradients all-reduced by DDP
            optimizer.step()
        if rank == 0:
            model.eval()
            with torch.no_grad():
                logits = model(xv)
                val_loss = loss_fn(logits, yv).item()
                accuracy = (logits.argmax(1) == yv).float().mean().item()
            print(
                json.dumps({"epoch": epoch, "val_loss": val_loss, "val_accuracy": accuracy}),
                flush=True,
            )
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "5")))
    args = parser.parse_args()
    if "LOCAL_RANK" not in os.environ:  # not started by torchrun yet: become it
        launch(sys.argv[1:])
    train(args)


if __name__ == "__main__":
    main()
