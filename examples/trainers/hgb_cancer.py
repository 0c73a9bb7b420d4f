"""Histogram gradient boosting on scikit-learn's bundled breast-cancer data (no download).

Prints ``name=value`` lines: ``validation-auc=0.991 validation-accuracy=0.972``.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--max-leaf-nodes", type=int, default=31)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--min-samples-leaf", type=int, default=20)
    parser.add_argument("--l2-regularization", type=float, default=0.0)
    parser.add_argument("--max-features", type=float, default=1.0)
    args = parser.parse_args()

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y
    )
    model = HistGradientBoostingClassifier(
        learning_rate=args.learning_rate,
        max_leaf_nodes=args.max_leaf_nodes,
        max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf,
        l2_regularization=args.l2_regularization,
        max_features=args.max_features,
        max_iter=100,
        random_state=0,
    ).fit(x_train, y_train)
    auc = roc_auc_score(y_valid, model.predict_proba(x_valid)[:, 1])
    accuracy = accuracy_score(y_valid, model.predict(x_valid))
    print(f"validation-auc={auc:.5f} validation-accuracy={accuracy:.5f}", flush=True)


if __name__ == "__main__":
    main()
