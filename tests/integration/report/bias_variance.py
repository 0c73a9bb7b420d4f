"""A real (tiny) trainer for the diagnosis tests: ridge regression on polynomial features of
noisy sin(2 pi x), built so that each case shows one verdict for every point of its search
space. It prints train-rmse, test-rmse and, as the objective, validation-rmse.

- ``bias``:     degree 1-2 cannot follow the sine: train error far above the noise (baseline)
- ``variance``: 10 training points and degree 9-12 with almost no regularization: the
                training error is near 0, the validation error is not
- ``both``:     a high-frequency sine, 10 training points, degree 3-4: neither fits
- ``mismatch``: a good fit, but the test inputs come from [1, 1.3] (outside the training range)

The noise's standard deviation, 0.1, is the best achievable RMSE: the baseline.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

NOISE = 0.1
CASES = {
    #           train points, frequency, test range
    "bias": (200, 1.0, (0.0, 1.0)),
    "variance": (10, 1.0, (0.0, 1.0)),
    "both": (10, 3.0, (0.0, 1.0)),
    "mismatch": (200, 1.0, (1.0, 1.3)),
}


def features(x: np.ndarray, degree: int) -> np.ndarray:
    return np.vander(2 * x - 1, degree + 1, increasing=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    parser.add_argument("--degree", type=int, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=0, help="print a curve first (pruning)")
    parser.add_argument("--epoch-seconds", type=float, default=0.0)
    args = parser.parse_args()
    points, frequency, (low, high) = CASES[args.case]
    rng = np.random.default_rng(0)

    def sample(n: int, lo: float = 0.0, hi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(lo, hi, n)
        return x, np.sin(2 * np.pi * frequency * x) + rng.normal(0, NOISE, n)

    x_train, y_train = sample(points)
    x_val, y_val = sample(400)
    x_test, y_test = sample(400, low, high)
    a = features(x_train, args.degree)
    weights = np.linalg.solve(a.T @ a + args.alpha * np.eye(a.shape[1]), a.T @ y_train)

    def rmse(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.sqrt(np.mean((features(x, args.degree) @ weights - y) ** 2)))

    validation = rmse(x_val, y_val)
    for epoch in range(args.epochs):  # a made-up learning curve converging to the result
        print(f"epoch={epoch} validation-rmse={validation * (1 + 2.0 / (epoch + 1)):.6f}")
        time.sleep(args.epoch_seconds)
    print(
        f"train-rmse={rmse(x_train, y_train):.6f} test-rmse={rmse(x_test, y_test):.6f} "
        f"validation-rmse={validation:.6f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
