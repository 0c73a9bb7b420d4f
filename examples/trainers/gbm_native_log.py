"""Gradient boosting that logs like XGBoost does: ``[25]  train-rmse:41.2  validation-rmse:55.3``.

This is the log SageMaker's built-in XGBoost prints and its MetricDefinitions match with regular
expressions; the TuningJob reads it the same way (``metrics.format: regex``). scikit-learn's
bundled diabetes data, no download.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eta", type=float, required=True)
    parser.add_argument("--max-depth", type=int, required=True)
    parser.add_argument("--num-round", type=int, default=100)
    parser.add_argument("--subsample", type=float, default=1.0)
    parser.add_argument("--min-child-weight", type=int, default=1)
    args = parser.parse_args()

    x, y = load_diabetes(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.25, random_state=0)
    model = GradientBoostingRegressor(
        learning_rate=args.eta,
        max_depth=args.max_depth,
        n_estimators=args.num_round,
        subsample=args.subsample,
        min_samples_leaf=args.min_child_weight,
        random_state=0,
    ).fit(x_train, y_train)
    stages = zip(model.staged_predict(x_train), model.staged_predict(x_valid), strict=True)
    for round_, (train_pred, valid_pred) in enumerate(stages):
        if round_ % 10 == 0 or round_ == args.num_round - 1:
            train = root_mean_squared_error(y_train, train_pred)
            valid = root_mean_squared_error(y_valid, valid_pred)
            print(f"[{round_}]\ttrain-rmse:{train:.5f}\tvalidation-rmse:{valid:.5f}", flush=True)


if __name__ == "__main__":
    main()
