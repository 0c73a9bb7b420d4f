"""A trial that reports through Prometheus instead of its log (``metrics.source: prometheus``).

It trains scikit-learn's ridge regression on the bundled diabetes data and pushes
``kubetune_trial_validation_rmse{trial="<trial name>"}`` to a Pushgateway (``PUSHGATEWAY_URL``),
which Prometheus scrapes and the operator queries. Without ``PUSHGATEWAY_URL`` it only prints.
"""

from __future__ import annotations

import argparse
import os

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, required=True)
    args = parser.parse_args()

    x, y = load_diabetes(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.25, random_state=0)
    model = Ridge(alpha=args.alpha).fit(x_train, y_train)
    rmse = root_mean_squared_error(y_valid, model.predict(x_valid))
    trial = os.environ.get("KUBETUNE_TRIAL_NAME", "local")
    print(f"validation-rmse={rmse:.5f}", flush=True)
    gateway = os.environ.get("PUSHGATEWAY_URL")
    if gateway:
        from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

        registry = CollectorRegistry()
        gauge = Gauge(
            "kubetune_trial_validation_rmse", "Validation RMSE", ["trial"], registry=registry
        )
        gauge.labels(trial=trial).set(rmse)
        push_to_gateway(
            gateway, job="kubetune-trials", grouping_key={"trial": trial}, registry=registry
        )


if __name__ == "__main__":
    main()
