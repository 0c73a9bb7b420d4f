"""Stand-in for examples/trainers/pytorch_mlp.py in the tests, which never install PyTorch.

Same flags, same data (scikit-learn's bundled digits), same JSON line per epoch
(``{"epoch": 3, "val_loss": 0.21, "val_accuracy": 0.94}``), with scikit-learn's MLP instead of
PyTorch's: what the example test checks (GPU placement, the metrics wiring, the best epoch
counting) is the example's own, not this trainer's.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)  # as L2 strength: no dropout here
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "8")))
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        solver=args.optimizer,
        learning_rate_init=args.lr,
        alpha=args.dropout * 1e-2,
        random_state=0,
    )
    classes = np.unique(y)
    for epoch in range(1, args.epochs + 1):
        model.partial_fit(xt, yt, classes=classes)
        line = {
            "epoch": epoch,
            "val_loss": round(float(log_loss(yv, model.predict_proba(xv), labels=classes)), 5),
            "val_accuracy": round(float(model.score(xv, yv)), 5),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
