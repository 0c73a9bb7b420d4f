"""Gradient boosting on scikit-learn's bundled diabetes data (no download).

Prints ``name=value`` lines, which is all kubetune needs to read metrics: intermediate validation
RMSE every 25 boosting stages (with their step), then the final metrics, among them the model's
size in tree nodes (``model-nodes``: what prediction costs, the second objective of
``multi-objective.yaml``).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--max-depth", type=int, required=True)
    parser.add_argument("--n-estimators", type=int, default=200)
    parser.add_argument("--subsample", type=float, default=1.0)
    parser.add_argument("--loss", default="squared_error")
    args = parser.parse_args()

    features, target = load_diabetes(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features, target, test_size=0.25, random_state=0
    )
    model = GradientBoostingRegressor(
        learning_rate=args.learning_rate,
        max_depth=args.max_depth,
        n_estimators=args.n_estimators,
        subsample=args.subsample,
        loss=args.loss,
        random_state=0,
    )
    model.fit(x_train, y_train)
    for stage, predictions in enumerate(model.staged_predict(x_valid), start=1):
        if stage % 25 == 0:
            print(
                f"step={stage} validation-rmse={root_mean_squared_error(y_valid, predictions):.4f}"
            )
    valid_rmse = root_mean_squared_error(y_valid, model.predict(x_valid))
    train_rmse = root_mean_squared_error(y_train, model.predict(x_train))
    nodes = sum(tree.tree_.node_count for tree in model.estimators_.ravel())
    print(f"validation-rmse={valid_rmse:.4f} train-rmse={train_rmse:.4f} model-nodes={nodes}")
    assert np.isfinite(valid_rmse)


if __name__ == "__main__":
    main()
