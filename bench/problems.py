"""The benchmark problems of ``bench/search.py``: functions with known optima, real scikit-learn
models on bundled data, a 20-parameter space and a noisy objective. All are minimised.

A benchmark with ``noise`` returns the objective plus Gaussian noise of that standard deviation
to the optimizer (drawn from the run's own seeded stream, in finishing order, so every strategy
sees the same noise sequence); ``bench/search.py`` reports its regret on the noise-free
``objective``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.common import diabetes

Params = Mapping[str, Any]


# ---- benchmarks ----------------------------------------------------------------------------
_H6_A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
_H6_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
_H6_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(params: Params) -> float:
    """Hartmann 6-D on [0, 1]^6; global minimum -3.32237."""
    x = [float(params[f"x{i}"]) for i in range(6)]
    total = 0.0
    for alpha, a, p in zip(_H6_ALPHA, _H6_A, _H6_P, strict=True):
        inner = sum(a[j] * (x[j] - p[j]) ** 2 for j in range(6))
        total -= alpha * math.exp(-inner)
    return total


def branin(params: Params) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; global minimum 0.397887 (three of them)."""
    x1, x2 = float(params["x1"]), float(params["x2"])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def svr_diabetes(params: Params) -> float:
    """A real model: an RBF/sigmoid-kernel SVR on scikit-learn's bundled diabetes data
    (442 patients, 10 features), 3-fold cross-validated RMSE of disease progression."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    features, target = diabetes()
    model = make_pipeline(
        StandardScaler(),
        SVR(
            C=float(params["C"]),
            gamma=float(params["gamma"]),
            epsilon=float(params["epsilon"]),
            kernel=str(params["kernel"]),
        ),
    )
    folds = KFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(
        model, features, target, cv=folds, scoring="neg_root_mean_squared_error"
    )
    return float(-scores.mean())


HARTMANN6_IN_20 = (3, 7, 9, 12, 15, 18)
"""Where Hartmann6's six coordinates sit among the 20 of ``hartmann6-in-20d``; the other 14 do
nothing (the low effective dimension sparse-axis priors are made for)."""


def hartmann6_in_20d(params: Params) -> float:
    """Hartmann6 embedded in 20 dimensions: x3, x7, x9, x12, x15, x18 matter, 14 are inert."""
    return hartmann6({f"x{i}": params[f"x{j}"] for i, j in enumerate(HARTMANN6_IN_20)})


def ackley(params: Params) -> float:
    """Ackley on [-5, 10]^d (asymmetric box, so the optimum is not the centre); minimum 0."""
    x = [float(v) for _, v in sorted(params.items(), key=lambda kv: int(kv[0][1:]))]
    d = len(x)
    first = -20.0 * math.exp(-0.2 * math.sqrt(sum(v * v for v in x) / d))
    second = -math.exp(sum(math.cos(2 * math.pi * v) for v in x) / d)
    return first + second + 20.0 + math.e


def kernel_ridge_pipeline(params: Params) -> float:
    """A mixed pipeline on the bundled diabetes data, 3-fold CV RMSE: select the k best
    features, scale them (3 scalers), whiten them to a share of principal components, fit a
    kernel ridge (3 kernels with their alpha, gamma, degree and coef0) on a transformed target
    (3 transforms). 9 parameters: 2 int, 4 float, 3 categorical."""
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.decomposition import PCA
    from sklearn.feature_selection import SelectKBest, f_regression
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer, RobustScaler, StandardScaler

    features, target = diabetes()
    k = int(params["k"])
    scaler = {
        "standard": StandardScaler(),
        "robust": RobustScaler(),
        "quantile": QuantileTransformer(n_quantiles=100, output_distribution="normal"),
    }[str(params["scaler"])]
    components = max(1, round(float(params["pca_share"]) * k))
    model = KernelRidge(
        kernel=str(params["kernel"]),
        alpha=float(params["alpha"]),
        gamma=float(params["gamma"]),
        degree=int(params["degree"]),
        coef0=float(params["coef0"]),
    )
    func, inverse = {
        "identity": (None, None),
        "log": (np.log, np.exp),
        "sqrt": (np.sqrt, np.square),
    }[str(params["target"])]
    pipeline = make_pipeline(
        SelectKBest(f_regression, k=k), scaler, PCA(components, whiten=True), model
    )
    regressor = TransformedTargetRegressor(
        pipeline, func=func, inverse_func=inverse, check_inverse=False
    )
    folds = KFold(n_splits=3, shuffle=True, random_state=0)
    with np.errstate(all="ignore"):
        scores = cross_val_score(
            regressor,
            features,
            target,
            cv=folds,
            scoring="neg_root_mean_squared_error",
            error_score=1e4,
        )
    value = float(-scores.mean())
    return value if math.isfinite(value) else 1e4


@dataclass(frozen=True)
class Benchmark:
    name: str
    parameters: list[dict[str, Any]]
    objective: Callable[[Params], float]
    target: float
    budget: int
    optimum: float | None = None
    note: str = ""
    noise: float = 0.0  # sd of the Gaussian noise the optimizer sees; regret is noise-free
    listed: bool = True  # run by default


BENCHMARKS: dict[str, Benchmark] = {
    "hartmann6": Benchmark(
        "hartmann6",
        [{"name": f"x{i}", "type": "float", "min": 0.0, "max": 1.0} for i in range(6)],
        hartmann6,
        target=-3.222,
        budget=200,
        optimum=-3.32237,
        note="6 floats; target within 0.1 of the optimum",
    ),
    "branin": Benchmark(
        "branin",
        [
            {"name": "x1", "type": "float", "min": -5.0, "max": 10.0},
            {"name": "x2", "type": "float", "min": 0.0, "max": 15.0},
        ],
        branin,
        target=0.41,
        budget=200,
        optimum=0.397887,
        note="2 floats; target within 0.012 of the optimum",
    ),
    "svr-diabetes": Benchmark(
        "svr-diabetes",
        [
            {"name": "C", "type": "float", "min": 0.01, "max": 1000.0, "scale": "log"},
            {"name": "gamma", "type": "float", "min": 1e-4, "max": 1.0, "scale": "log"},
            {"name": "epsilon", "type": "float", "min": 0.01, "max": 50.0, "scale": "log"},
            {"name": "kernel", "type": "categorical", "values": ["rbf", "sigmoid"]},
        ],
        svr_diabetes,
        target=53.6,
        budget=100,
        optimum=None,
        note="scikit-learn SVR on the bundled diabetes data, 3-fold CV RMSE; 3 log floats + "
        "1 categorical",
    ),
    "hartmann6-in-20d": Benchmark(
        "hartmann6-in-20d",
        [{"name": f"x{i}", "type": "float", "min": 0.0, "max": 1.0} for i in range(20)],
        hartmann6_in_20d,
        target=-3.0,
        budget=100,
        optimum=-3.32237,
        note="20 floats, 6 of them Hartmann6's, 14 inert; target within 0.33 of the optimum",
        listed=False,
    ),
    "ackley20": Benchmark(
        "ackley20",
        [{"name": f"x{i}", "type": "float", "min": -5.0, "max": 10.0} for i in range(20)],
        ackley,
        target=4.0,
        budget=100,
        optimum=0.0,
        note="20 floats; Ackley, many local minima; target 4 (optimum 0)",
        listed=False,
    ),
    "kridge-mixed": Benchmark(
        "kridge-mixed",
        [
            {"name": "k", "type": "int", "min": 3, "max": 10},
            {"name": "scaler", "type": "categorical", "values": ["standard", "robust", "quantile"]},
            {"name": "pca_share", "type": "float", "min": 0.3, "max": 1.0},
            {"name": "kernel", "type": "categorical", "values": ["rbf", "laplacian", "polynomial"]},
            {"name": "alpha", "type": "float", "min": 1e-4, "max": 10.0, "scale": "log"},
            {"name": "gamma", "type": "float", "min": 1e-4, "max": 1.0, "scale": "log"},
            {"name": "degree", "type": "int", "min": 2, "max": 4},
            {"name": "coef0", "type": "float", "min": 0.0, "max": 5.0},
            {"name": "target", "type": "categorical", "values": ["identity", "log", "sqrt"]},
        ],
        kernel_ridge_pipeline,
        target=54.0,
        budget=100,
        optimum=None,
        note="scikit-learn pipeline on the diabetes data, 3-fold CV RMSE; 9 parameters: 2 int, "
        "4 float, 3 categorical",
        listed=False,
    ),
    "hartmann6-noisy": Benchmark(
        "hartmann6-noisy",
        [{"name": f"x{i}", "type": "float", "min": 0.0, "max": 1.0} for i in range(6)],
        hartmann6,
        target=-3.222,
        budget=100,
        optimum=-3.32237,
        note="Hartmann6 + Gaussian noise (sd 0.1) on every result; target and regret noise-free",
        noise=0.1,
        listed=False,
    ),
}
