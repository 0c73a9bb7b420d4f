"""A small PyTorch classifier on scikit-learn's bundled handwritten digits (no download).

Uses the GPU when there is one (the TuningJob asks for ``nvidia.com/gpu: 1``) and falls back to
the CPU, so the same trial runs on a laptop. Prints one JSON line per epoch, which kubetune's
default ``format: auto`` reads: ``{"epoch": 3, "val_loss": 0.21, "val_accuracy": 0.94}``.
"""

from __future__ import annotations

import argparse
import json
import os

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "8")))
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(json.dumps({"device": str(device)}), flush=True)

    features, labels = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features / 16.0, labels, test_size=0.25, random_state=0
    )

    def tensors(x, y):  # type: ignore[no-untyped-def]
        return (
            torch.tensor(x, dtype=torch.float32, device=device),
            torch.tensor(y, dtype=torch.long, device=device),
        )

    (xt, yt), (xv, yv) = tensors(x_train, y_train), tensors(x_valid, y_valid)
    model = nn.Sequential(
        nn.Linear(64, args.hidden),
        nn.ReLU(),
        nn.Dropout(args.dropout),
        nn.Linear(args.hidden, 10),
    ).to(device)
    optimizer = (
        torch.optim.Adam(model.parameters(), lr=args.lr)
        if args.optimizer == "adam"
        else torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    )
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch in torch.randperm(len(xt), device=device).split(64):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(xv)
            val_loss = loss_fn(logits, yv).item()
            accuracy = (logits.argmax(dim=1) == yv).float().mean().item()
        line = {"epoch": epoch, "val_loss": round(val_loss, 5), "val_accuracy": round(accuracy, 5)}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
