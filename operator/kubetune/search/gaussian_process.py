"""A Gaussian process in NumPy and SciPy: the model behind the ``bayesian`` strategy.

Small on purpose: a Matérn 5/2 kernel with one lengthscale per parameter (categorical
parameters compare equal or not), a constant mean, hyperparameters fitted by maximum a
posteriori with L-BFGS-B on the exact gradient, and the log expected improvement. Inputs are
already scaled to ``[0, 1]`` (categories as indices) and outputs standardized by the caller; it
maximizes.

The constant mean is the generalized-least-squares one, not the average of the results: a
search piles trials up around its best region, and the plain average, pulled up by them, made
the model expect good results far from any data, so it spent trials on the corners of the
space (``bench/results.md`` has the figures).

Why not a PyTorch GP (Optuna's ``GPSampler``, BoTorch): PyTorch is a large install, slow to
import and costly in resident memory in every operator process that makes a GP suggestion; for
the at most a few hundred trials the GP models, NumPy does the same work in milliseconds.

The priors are weak and keep the fit sane with a handful of points: lengthscales are pulled
away from both extremes, the signal variance towards 1 (outputs are standardized) and the
noise towards small values. With many parameters (:data:`SPARSE_AXES_MIN_DIMENSIONS`) the
lengthscale prior is a sparse-axis one instead: a parameter is inert until the data says not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg, optimize, special

Array = NDArray[np.float64]

MIN_NOISE = 1e-6
"""The noise variance never goes below this: it keeps the kernel matrix well conditioned."""

_SQRT5 = math.sqrt(5.0)

SPARSE_AXES_MIN_DIMENSIONS = 17
"""From this many parameters on, the lengthscales get a sparse-axis prior (most parameters
inert until the data shows otherwise) instead of the moderate one: with many parameters and few
trials, the moderate prior spreads the model over every axis and it learns none well."""
SPARSE_AXES_SCALE = 0.1

DIMENSION_SCALED = False
"""With many parameters, a log-normal lengthscale prior whose median grows with the square root
of the dimension (Hvarfner et al. 2024, Ax's default) instead of the sparse-axis one; an
experiment (``bench/results.md``)."""


@dataclass(frozen=True)
class Hyperparameters:
    inverse_squared_lengthscales: Array  # one per parameter
    signal_variance: float
    noise_variance: float

    @classmethod
    def initial(cls, dimensions: int) -> Hyperparameters:
        return cls(np.ones(dimensions), 1.0, 0.01)

    def to_raw(self) -> Array:
        scales = [self.signal_variance, self.noise_variance]
        raw: Array = np.log(np.concatenate([self.inverse_squared_lengthscales, scales]))
        return raw

    @classmethod
    def from_raw(cls, raw: Array) -> Hyperparameters:
        values = np.exp(raw)
        return cls(values[:-2], float(values[-2]), float(values[-1]))


def squared_distances(a: Array, b: Array, categorical: NDArray[np.bool_]) -> Array:
    """Per-dimension squared differences, shape ``(len(a), len(b), dimensions)``; a categorical
    dimension contributes 0 when the categories are equal and 1 otherwise."""
    difference = a[:, None, :] - b[None, :, :]
    return np.where(categorical, (difference != 0).astype(np.float64), difference**2)


def matern52(scaled_sqd: Array, signal_variance: float) -> Array:
    """The Matérn 5/2 kernel of the lengthscale-weighted squared distance ``r²``."""
    r = np.sqrt(np.maximum(scaled_sqd, 0.0))
    return signal_variance * (1.0 + _SQRT5 * r + (5.0 / 3.0) * scaled_sqd) * np.exp(-_SQRT5 * r)


def _matern52_d_sqd(scaled_sqd: Array, signal_variance: float) -> Array:
    """d kernel / d r², finite at r = 0."""
    r = np.sqrt(np.maximum(scaled_sqd, 0.0))
    return -signal_variance * (5.0 / 6.0) * (1.0 + _SQRT5 * r) * np.exp(-_SQRT5 * r)


def _log_prior_and_gradient(raw: Array, sparse: bool) -> tuple[float, Array]:
    """Log prior density (up to a constant) of the raw (log) hyperparameters, and its gradient.

    Lengthscales (unless ``sparse``): ``-(0.1 / λ + 0.1 λ)`` per inverse squared lengthscale
    λ, which favours λ near 1 and rules out both extremes; signal variance: Gamma(2, 1); noise:
    Gamma(1.1, 30).
    """
    values = np.exp(raw)
    ils, signal, noise = values[:-2], values[-2], values[-1]
    gradient = np.empty_like(raw)
    if sparse and DIMENSION_SCALED:
        # lengthscale ~ LogNormal(√2 + log(d) / 2, √3); λ = lengthscale⁻², so log λ is normal
        # with mean -2 (√2 + log(d) / 2) and standard deviation 2√3.
        centre = -2.0 * (math.sqrt(2.0) + 0.5 * math.log(len(ils)))
        log_prior = -float(np.sum((raw[:-2] - centre) ** 2)) / 24.0
        gradient[:-2] = -(raw[:-2] - centre) / 12.0
    elif sparse:
        # Half-Cauchy(0, τ) on each λ (SAAS-like, as a MAP fit): most parameters inert, the
        # data has to show that one matters. In log λ the Jacobian adds log λ.
        ratio = (ils / SPARSE_AXES_SCALE) ** 2
        log_prior = float(np.sum(raw[:-2] - np.log1p(ratio)))
        gradient[:-2] = 1.0 - 2.0 * ratio / (1.0 + ratio)
    else:
        log_prior = -float(np.sum(0.1 / ils + 0.1 * ils))
        gradient[:-2] = 0.1 / ils - 0.1 * ils  # d/d log λ
    log_prior += math.log(signal) - signal  # Gamma(2, 1)
    log_prior += 0.1 * math.log(noise) - 30.0 * noise  # Gamma(1.1, 30)
    gradient[-2] = 1.0 - signal
    gradient[-1] = 0.1 - 30.0 * noise
    return log_prior, gradient


def _negative_log_posterior(
    raw: Array, sqd: Array, y: Array, fixed_noise: float | None, sparse: bool = False
) -> tuple[float, Array]:
    if fixed_noise is not None:
        raw = raw.copy()
        raw[-1] = math.log(fixed_noise)
    hyper = Hyperparameters.from_raw(raw)
    scaled = sqd @ hyper.inverse_squared_lengthscales
    k = matern52(scaled, hyper.signal_variance)
    n = len(y)
    cov = k + (hyper.noise_variance + MIN_NOISE) * np.eye(n)
    try:
        factor = linalg.cho_factor(cov, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return math.inf, np.zeros_like(raw)
    residual = y - _constant_mean(factor, y)
    alpha = linalg.cho_solve(factor, residual, check_finite=False)
    log_det = 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
    log_likelihood = (
        -0.5 * float(residual @ alpha) - 0.5 * log_det - 0.5 * n * math.log(2 * math.pi)
    )
    # d log L / d θ = ½ tr((a aᵀ - K⁻¹) dK/dθ), a = K⁻¹ (y - m); the mean m is the best one for
    # these θ, so its own change with θ does not enter the gradient.
    inner = np.outer(alpha, alpha) - linalg.cho_solve(factor, np.eye(n), check_finite=False)
    d_sqd = _matern52_d_sqd(scaled, hyper.signal_variance)
    gradient = np.empty_like(raw)
    # dK/d log λ_k = dk/dr² · λ_k · sqd_k
    gradient[:-2] = (
        0.5 * np.einsum("ij,ij,ijk->k", inner, d_sqd, sqd) * hyper.inverse_squared_lengthscales
    )
    gradient[-2] = 0.5 * float(np.sum(inner * k))  # dK/d log s = K_f
    gradient[-1] = (
        0.0 if fixed_noise is not None else 0.5 * float(np.trace(inner)) * (hyper.noise_variance)
    )
    log_prior, prior_gradient = _log_prior_and_gradient(raw, sparse)
    if fixed_noise is not None:
        prior_gradient[-1] = 0.0
    return -(log_likelihood + log_prior), -(gradient + prior_gradient)


def _constant_mean(factor: tuple[Array, bool], y: Array) -> float:
    """The generalized-least-squares constant mean ``1ᵀK⁻¹y / 1ᵀK⁻¹1`` (``factor``: K's
    Cholesky factor): the most likely prior mean under the kernel, where the plain average would
    count every trial of a cluster the search piled up around its best region as independent."""
    weights = linalg.cho_solve(factor, np.ones(len(y)), check_finite=False)
    return float(weights @ y / weights.sum())


# Bounds on the raw (log) hyperparameters: wide, the priors do the real work.
_LOG_ILS_BOUNDS = (math.log(1e-4), math.log(1e4))
_LOG_SIGNAL_BOUNDS = (math.log(1e-3), math.log(1e2))
_LOG_NOISE_BOUNDS = (math.log(1e-9), math.log(1.0))


class GaussianProcess:
    """A fitted Gaussian process: ``GaussianProcess.fit(x, y, categorical)``, then ``predict``."""

    def __init__(
        self, x: Array, y: Array, categorical: NDArray[np.bool_], hyper: Hyperparameters
    ) -> None:
        self.x, self.y, self.categorical, self.hyper = x, y, categorical, hyper
        sqd = squared_distances(x, x, categorical)
        cov = matern52(sqd @ hyper.inverse_squared_lengthscales, hyper.signal_variance)
        cov += (hyper.noise_variance + MIN_NOISE) * np.eye(len(x))
        self._factor = linalg.cholesky(cov, lower=True, check_finite=False)
        self.mean = _constant_mean((self._factor, True), y)
        self._alpha = linalg.cho_solve((self._factor, True), y - self.mean, check_finite=False)

    @classmethod
    def fit(
        cls,
        x: Array,
        y: Array,
        categorical: NDArray[np.bool_],
        *,
        start: Hyperparameters | None = None,
        deterministic: bool = False,
    ) -> GaussianProcess:
        """Maximum a posteriori hyperparameters for ``(x, y)``, from ``start`` (e.g. the last
        fit, so a study's successive fits are quick) and from the default; the better wins."""
        sqd = squared_distances(x, x, categorical)
        dimensions = x.shape[1]
        fixed_noise = MIN_NOISE if deterministic else None
        bounds = [_LOG_ILS_BOUNDS] * dimensions + [_LOG_SIGNAL_BOUNDS, _LOG_NOISE_BOUNDS]
        starts = [Hyperparameters.initial(dimensions)]
        if start is not None and len(start.inverse_squared_lengthscales) == dimensions:
            starts.insert(0, start)
        best: tuple[float, Array] | None = None
        for candidate in starts:
            raw = np.clip(candidate.to_raw(), [b[0] for b in bounds], [b[1] for b in bounds])
            result = optimize.minimize(
                _negative_log_posterior,
                raw,
                args=(sqd, y, fixed_noise, dimensions >= SPARSE_AXES_MIN_DIMENSIONS),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
            )
            if np.isfinite(result.fun) and (best is None or result.fun < best[0]):
                best = (float(result.fun), result.x)
        raw = best[1] if best is not None else Hyperparameters.initial(dimensions).to_raw()
        if fixed_noise is not None:
            raw = raw.copy()
            raw[-1] = math.log(fixed_noise)
        return cls(x, y, categorical, Hyperparameters.from_raw(raw))

    def with_observations(self, x: Array, y: Array) -> GaussianProcess:
        """The same hyperparameters conditioned on more points (e.g. running trials)."""
        return GaussianProcess(
            np.vstack([self.x, x]), np.concatenate([self.y, y]), self.categorical, self.hyper
        )

    def predict(self, x: Array) -> tuple[Array, Array]:
        """Posterior mean and variance at each row of ``x``."""
        sqd = squared_distances(x, self.x, self.categorical)
        cross = matern52(sqd @ self.hyper.inverse_squared_lengthscales, self.hyper.signal_variance)
        mean = self.mean + cross @ self._alpha
        v = linalg.solve_triangular(self._factor, cross.T, lower=True, check_finite=False)
        variance = self.hyper.signal_variance - np.sum(v * v, axis=0)
        return mean, np.maximum(variance, 1e-12)

    def predict_gradient(self, point: Array) -> tuple[float, float, Array, Array]:
        """Posterior mean and variance at one point, and their gradients with respect to its
        coordinates (zero along categorical ones, which have no gradient)."""
        sqd = squared_distances(point[None, :], self.x, self.categorical)[0]
        ils, signal = self.hyper.inverse_squared_lengthscales, self.hyper.signal_variance
        scaled = sqd @ ils
        cross = matern52(scaled, signal)
        # d k_i / d point = dk/dr² · 2 λ (point - x_i), per continuous coordinate
        slope = _matern52_d_sqd(scaled, signal)[:, None] * 2.0 * ils * (point - self.x)
        slope[:, self.categorical] = 0.0
        weights = linalg.cho_solve((self._factor, True), cross, check_finite=False)
        variance = signal - float(cross @ weights)
        variance_gradient = -2.0 * (weights @ slope)
        if variance < 1e-12:
            variance, variance_gradient = 1e-12, np.zeros_like(point)
        return (
            self.mean + float(cross @ self._alpha),
            variance,
            self._alpha @ slope,
            variance_gradient,
        )

    def sample_joint(self, x: Array, count: int, rng: np.random.Generator) -> Array:
        """``count`` joint draws of the process at the rows of ``x``: ``(count, len(x))``."""
        sqd = squared_distances(x, self.x, self.categorical)
        ils, signal = self.hyper.inverse_squared_lengthscales, self.hyper.signal_variance
        cross = matern52(sqd @ ils, signal)
        mean = self.mean + cross @ self._alpha
        v = linalg.solve_triangular(self._factor, cross.T, lower=True, check_finite=False)
        own = matern52(squared_distances(x, x, self.categorical) @ ils, signal)
        cov = own - v.T @ v + 1e-9 * np.eye(len(x))
        values, vectors = np.linalg.eigh(cov)
        root = vectors * np.sqrt(np.maximum(values, 0.0))
        draws: Array = mean + rng.standard_normal((count, len(x))) @ root.T
        return draws


def log_expected_improvement(mean: Array, variance: Array, best: float) -> Array:
    """log E[max(f - best, 0)] under the posterior, computed stably far into the tail (where
    the improvement itself underflows to 0 but its logarithm still ranks candidates)."""
    sigma = np.sqrt(variance)
    z = (mean - best) / sigma
    return np.log(sigma) + _log_h(z)


def log_expected_improvement_gradient(
    mean: float, variance: float, mean_gradient: Array, variance_gradient: Array, best: float
) -> tuple[float, Array]:
    """:func:`log_expected_improvement` at one point and its gradient, from the posterior's
    (``GaussianProcess.predict_gradient``): d log EI = d sigma / sigma + Φ(z)/h(z) dz, as
    h' = Φ."""
    sigma = math.sqrt(variance)
    z = (mean - best) / sigma
    log_h = float(_log_h(np.array([z]))[0])
    ratio = math.exp(float(special.log_ndtr(z)) - log_h)  # Φ(z) / h(z), stable in the tail
    sigma_gradient = variance_gradient / (2.0 * sigma)
    z_gradient = (mean_gradient - z * sigma_gradient) / sigma
    return math.log(sigma) + log_h, sigma_gradient / sigma + ratio * z_gradient


def _log_h(z: Array) -> Array:
    """log(φ(z) + z Φ(z)), the standardized expected improvement."""
    result = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    result[upper] = np.log(np.exp(-0.5 * zu**2) / math.sqrt(2 * math.pi) + zu * special.ndtr(zu))
    zl = z[~upper]
    # φ(z) + z Φ(z) = φ(z) (1 + z Φ(z)/φ(z)) and Φ(z)/φ(z) = √(π/2) erfcx(-z/√2) for z < 0.
    log_phi = -0.5 * zl**2 - 0.5 * math.log(2 * math.pi)
    ratio = zl * special.erfcx(-zl / math.sqrt(2)) * math.sqrt(math.pi / 2)
    # For very negative z, 1 + ratio → 1/z² with cancellation; the asymptote takes over there.
    result[~upper] = np.where(
        zl > -1e3, log_phi + np.log1p(np.maximum(ratio, -1 + 1e-300)), log_phi - 2 * np.log(-zl)
    )
    return result
