"""The Gaussian process: the exact gradient of its fit, what it predicts, log EI in the tail."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kubetune.search import gaussian_process as gpm
from scipy import optimize, stats

CATEGORICAL = np.array([False, False, True])


def data(n: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    x[:, 2] = rng.integers(0, 3, n)
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2 + 0.5 * (x[:, 2] == 1)
    return x, (y - y.mean()) / y.std()


@pytest.mark.parametrize(
    ("deterministic", "sparse", "scaled"),
    [(False, False, False), (True, False, False), (False, True, False), (False, True, True)],
)
def test_the_fit_gradient_is_the_derivative_of_the_posterior(
    deterministic: bool, sparse: bool, scaled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpm, "DIMENSION_SCALED", scaled)
    x, y = data()
    sqd = gpm.squared_distances(x, x, CATEGORICAL)
    raw = np.log(np.array([2.0, 0.5, 1.3, 0.8, 0.05]))
    fixed = gpm.MIN_NOISE if deterministic else None

    def value(r: np.ndarray) -> float:
        return gpm._negative_log_posterior(r, sqd, y, fixed, sparse)[0]

    numeric = optimize.approx_fprime(raw, value, 1e-6)
    exact = gpm._negative_log_posterior(raw, sqd, y, fixed, sparse)[1]
    np.testing.assert_allclose(exact, numeric, rtol=1e-4, atol=1e-4)
    if deterministic:
        assert exact[-1] == 0.0


def test_categories_are_equal_or_not() -> None:
    a = np.array([[0.1, 0.2, 0.0], [0.1, 0.2, 2.0]])
    sqd = gpm.squared_distances(a, a, CATEGORICAL)
    assert sqd[0, 1].tolist() == [0.0, 0.0, 1.0]  # categories 0 and 2 are 1 apart, not 4


def test_a_fit_interpolates_and_is_uncertain_away_from_the_data() -> None:
    x, y = data(25)
    gp = gpm.GaussianProcess.fit(x, y, CATEGORICAL)
    mean, variance = gp.predict(x)
    assert np.max(np.abs(mean - y)) < 0.2
    far = np.array([[0.5, 5.0, 1.0]])  # outside the unit box in one coordinate
    assert gp.predict(far)[1][0] > 10 * variance.max()
    # The fit is better than the starting point and lengthscales stay inside their bounds.
    sqd = gpm.squared_distances(x, x, CATEGORICAL)
    fitted = gpm._negative_log_posterior(gp.hyper.to_raw(), sqd, y, None)[0]
    initial = gpm._negative_log_posterior(gpm.Hyperparameters.initial(3).to_raw(), sqd, y, None)
    assert fitted < initial[0]


def test_far_from_the_data_it_expects_the_mean_of_the_independent_evidence() -> None:
    # Ten trials piled up around one good point and ten spread over the rest: far from all of
    # them the model expects what the spread trials say, not the plain average of all twenty.
    rng = np.random.default_rng(1)
    cluster = 0.5 + 0.01 * rng.standard_normal((10, 2))
    spread = rng.random((10, 2))
    x = np.vstack([cluster, spread])
    y = np.concatenate([np.full(10, 2.0), rng.normal(-1.0, 0.1, 10)])
    hyper = gpm.Hyperparameters(np.full(2, 100.0), 1.0, 1e-4)  # lengthscale 0.1
    gp = gpm.GaussianProcess(x, y, np.zeros(2, dtype=bool), hyper)
    far = gp.predict(np.array([[5.0, 5.0]]))[0][0]
    assert far < -0.5  # the plain average is +0.5
    assert gp.mean == pytest.approx(far)


def test_a_deterministic_fit_keeps_the_minimum_noise() -> None:
    x, y = data()
    gp = gpm.GaussianProcess.fit(x, y, CATEGORICAL, deterministic=True)
    assert gp.hyper.noise_variance == pytest.approx(gpm.MIN_NOISE)


def test_conditioning_on_pending_points_removes_their_uncertainty() -> None:
    x, y = data()
    gp = gpm.GaussianProcess.fit(x, y, CATEGORICAL)
    pending = np.array([[0.9, 0.9, 0.0]])
    before = gp.predict(pending)
    after = gp.with_observations(pending, before[0]).predict(pending)
    assert after[0][0] == pytest.approx(before[0][0], abs=1e-3)  # the same mean: it believes it
    assert after[1][0] < 0.1 * before[1][0]  # down to about the fitted noise


@pytest.mark.parametrize("z", [3.0, 0.0, -0.99, -1.01, -5.0, -30.0])
def test_log_expected_improvement_matches_the_closed_form(z: float) -> None:
    sigma = 0.7
    expected = math.log(sigma * (stats.norm.pdf(z) + z * stats.norm.cdf(z)))
    got = gpm.log_expected_improvement(np.array([z * sigma]), np.array([sigma**2]), 0.0)[0]
    assert got == pytest.approx(expected, rel=1e-6)


def test_log_expected_improvement_still_ranks_where_the_improvement_underflows() -> None:
    z = np.array([-40.0, -400.0, -4000.0])
    assert (stats.norm.pdf(z) + z * stats.norm.cdf(z) == 0).all()  # what naive EI sees
    values = gpm.log_expected_improvement(z, np.ones(3), 0.0)
    assert np.isfinite(values).all()
    assert values[0] > values[1] > values[2]
    # -0.5 z² - log(√(2π)) - 2 log|z| is the asymptote
    assert values[2] == pytest.approx(
        -0.5 * 4000.0**2 - 0.5 * math.log(2 * math.pi) - 2 * math.log(4000.0)
    )


def test_joint_draws_have_the_posterior_mean_and_covariance() -> None:
    x, y = data()
    gp = gpm.GaussianProcess.fit(x, y, np.array([False, False, True]))
    points = np.array([[0.2, 0.2, 0.0], [0.21, 0.2, 0.0], [0.9, 0.1, 2.0]])
    draws = gp.sample_joint(points, 20000, np.random.default_rng(0))
    mean, variance = gp.predict(points)
    assert draws.mean(axis=0) == pytest.approx(mean, abs=0.03)
    assert draws.var(axis=0) == pytest.approx(variance, rel=0.05, abs=1e-3)
    # Two neighbours move together; the far point hardly with them.
    assert np.corrcoef(draws[:, 0], draws[:, 1])[0, 1] > 0.9


def test_the_sparse_axis_prior_leaves_an_inert_parameter_inert(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(1)
    x = rng.random((30, 8))
    y = np.sin(5 * x[:, 0]) + x[:, 1]  # 6 of the 8 parameters do nothing
    y = (y - y.mean()) / y.std()
    categorical = np.zeros(8, dtype=bool)
    monkeypatch.setattr(gpm, "SPARSE_AXES_MIN_DIMENSIONS", 8)
    sparse = gpm.GaussianProcess.fit(x, y, categorical).hyper.inverse_squared_lengthscales
    monkeypatch.setattr(gpm, "SPARSE_AXES_MIN_DIMENSIONS", 9)
    moderate = gpm.GaussianProcess.fit(x, y, categorical).hyper.inverse_squared_lengthscales
    assert sparse[2:].max() < 0.1 * min(sparse[0], sparse[1])  # inert: long lengthscales
    assert sparse[2:].max() < moderate[2:].max()


def test_many_parameters_get_the_sparse_axis_prior_by_default() -> None:
    rng = np.random.default_rng(2)
    dimensions = gpm.SPARSE_AXES_MIN_DIMENSIONS
    x = rng.random((30, dimensions))
    y = np.sin(5 * x[:, 0]) + x[:, 1]
    y = (y - y.mean()) / y.std()
    fitted = gpm.GaussianProcess.fit(x, y, np.zeros(dimensions, dtype=bool))
    ils = fitted.hyper.inverse_squared_lengthscales
    assert ils[2:].max() < 0.1 * min(ils[0], ils[1])


@pytest.mark.parametrize("best", [-0.5, 0.8, 6.0])  # near the mean, above it, far in the tail
def test_the_acquisition_gradient_is_its_derivative(best: float) -> None:
    from kubetune.search import acquisition

    x, y = data(20)
    gp = gpm.GaussianProcess.fit(x, y, CATEGORICAL)
    other = gp.with_observations(np.array([[0.4, 0.6, 1.0]]), np.array([1.5]))
    point = np.array([0.31, 0.72, 2.0])
    for models in ([(gp, best)], [(gp, best), (other, best + 0.3)]):
        value, gradient = acquisition.log_ei_and_gradient(models, point)
        assert value == pytest.approx(acquisition.log_ei(models, point[None, :])[0])

        def at(u: np.ndarray, models: acquisition.Models = models) -> float:
            return float(acquisition.log_ei(models, np.array([[u[0], u[1], 2.0]]))[0])

        numeric = optimize.approx_fprime(point[:2], at, 1e-7)
        np.testing.assert_allclose(gradient[:2], numeric, rtol=1e-3, atol=1e-5)
        assert gradient[2] == 0.0  # a categorical coordinate has none
