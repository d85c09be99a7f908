import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.exceptions import ConvergenceWarning

from otcompanion.alignment import (
    exact_alignment,
    gaussian_alignment,
    minibatch_alignment,
    sinkhorn_alignment,
)


def clouds(n=30, d=2, p=2, seed=0):
    """Tokens around the origin and draws of a dummy Gaussian N((0, 6, 0...), I)."""
    rng = np.random.default_rng(seed)
    tokens = rng.normal(size=(n, d)) @ np.array([[1.0, 0.3], [0.0, 0.5]])[:d, :d]
    dummy = rng.normal(size=(n, p))
    dummy[:, 1] += 6.0
    return tokens, dummy


# ---------------------------------------------------------------------------------------------
# exact_alignment
# ---------------------------------------------------------------------------------------------

def test_exact_alignment_is_the_optimal_permutation():
    tokens, dummy = clouds(n=12)
    targets = exact_alignment(tokens, dummy)
    rows, columns = linear_sum_assignment(cdist(tokens, dummy, "sqeuclidean"))
    np.testing.assert_array_equal(rows, np.arange(12))
    np.testing.assert_array_equal(targets, dummy[columns])


def test_exact_alignment_pads_the_smaller_dimension_with_zeros():
    tokens, dummy = clouds(n=10, d=1, p=3)
    padded = np.zeros((10, 3))
    padded[:, :1] = tokens
    _, columns = linear_sum_assignment(cdist(padded, dummy, "sqeuclidean"))
    np.testing.assert_array_equal(exact_alignment(tokens, dummy), dummy[columns])
    assert exact_alignment(dummy, tokens).shape == (10, 1)  # targets in the dummy's dimension


def test_exact_alignment_refuses_unequal_or_too_large_clouds():
    tokens, dummy = clouds(n=10)
    with pytest.raises(ValueError, match="as many points: 10 and 9"):
        exact_alignment(tokens, dummy[:9])
    with pytest.raises(ValueError, match="max_points=5"):
        exact_alignment(tokens, dummy, max_points=5)


# ---------------------------------------------------------------------------------------------
# sinkhorn_alignment
# ---------------------------------------------------------------------------------------------

def test_sinkhorn_alignment_approaches_the_exact_targets_as_epsilon_shrinks():
    tokens, dummy = clouds(n=30)
    exact = exact_alignment(tokens, dummy)
    gaps = [np.linalg.norm(sinkhorn_alignment(tokens, dummy, epsilon) - exact, axis=1).mean()
            for epsilon in (0.1, 0.01, 0.001)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 0.03  # a tenth of the distance between neighbouring draws (about 0.3)


def test_sinkhorn_alignment_is_the_barycentric_projection_of_pots_plan():
    tokens, dummy = clouds(n=20)
    centred = cdist(tokens - tokens.mean(axis=0), dummy - dummy.mean(axis=0), "sqeuclidean")
    weights = np.full(20, 1 / 20)
    plan = ot.sinkhorn(weights, weights, centred, 0.1 * centred.mean(), stopThr=1e-12,
                       numItermax=100_000)
    expected = plan @ dummy / plan.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sinkhorn_alignment(tokens, dummy, 0.1, tol=1e-10), expected,
                               atol=1e-6)
    # Centring changes no plan: the uncentred cost with the same regularization gives it too.
    raw = ot.sinkhorn(weights, weights, cdist(tokens, dummy, "sqeuclidean"),
                      0.1 * centred.mean(), stopThr=1e-12, numItermax=100_000)
    np.testing.assert_allclose(raw, plan, atol=1e-9)


def test_sinkhorn_alignment_warns_when_it_does_not_converge():
    tokens, dummy = clouds(n=20)
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        targets = sinkhorn_alignment(tokens, dummy, 0.01, max_iter=2)
    assert np.all(np.isfinite(targets))


def test_sinkhorn_alignment_of_constant_clouds_is_the_dummy_mean():
    targets = sinkhorn_alignment(np.ones((4, 2)), np.full((4, 2), 3.0), 0.01)
    np.testing.assert_array_equal(targets, np.full((4, 2), 3.0))
    with pytest.raises(ValueError, match="epsilon must be a finite number"):
        sinkhorn_alignment(np.ones((4, 2)), np.ones((4, 2)), 0.0)


# ---------------------------------------------------------------------------------------------
# minibatch_alignment
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [40, 100])
def test_minibatch_alignment_with_one_batch_is_exact(batch_size):
    tokens, dummy = clouds(n=40)
    targets = minibatch_alignment(tokens, dummy, batch_size, np.random.default_rng(3))
    np.testing.assert_array_equal(targets, exact_alignment(tokens, dummy))


def test_minibatch_alignment_is_exact_within_each_batch():
    tokens, dummy = clouds(n=40)
    targets = minibatch_alignment(tokens, dummy, 8, 3)
    order = np.random.default_rng(3).permutation(40)
    start = 0
    for batch in np.array_split(order, 5):  # 5 batches of 8 tokens, draws taken in order
        block = dummy[start:start + 8]
        np.testing.assert_array_equal(targets[batch], exact_alignment(tokens[batch], block))
        start += 8
    # Every draw is used once, and the transport is worse than the exact one.
    np.testing.assert_array_equal(np.sort(targets, axis=0), np.sort(dummy, axis=0))
    exact = exact_alignment(tokens, dummy)
    assert np.sum((tokens - targets) ** 2) > np.sum((tokens - exact) ** 2)
    # Reproducible with the same seed, different with another.
    np.testing.assert_array_equal(minibatch_alignment(tokens, dummy, 8, 3), targets)
    assert not np.array_equal(minibatch_alignment(tokens, dummy, 8, 4), targets)


# ---------------------------------------------------------------------------------------------
# gaussian_alignment
# ---------------------------------------------------------------------------------------------

def test_gaussian_alignment_maps_the_moments_onto_the_target():
    rng = np.random.default_rng(0)
    root = rng.normal(size=(3, 3))
    tokens = rng.multivariate_normal([1.0, -2.0, 0.5], root @ root.T + 0.1 * np.eye(3),
                                     size=500)
    target_mean = np.array([6.0, 0.0, -1.0])
    root = rng.normal(size=(3, 3))
    target_cov = root @ root.T + 0.2 * np.eye(3)
    mapped = gaussian_alignment(tokens, target_mean, target_cov)
    np.testing.assert_allclose(mapped.mean(axis=0), target_mean, atol=1e-10)
    np.testing.assert_allclose(np.cov(mapped, rowvar=False, bias=True), target_cov, atol=1e-6)
    # An affine map x -> A x + b with a symmetric positive definite A (a Brenier map).
    A, *_ = np.linalg.lstsq(np.c_[tokens, np.ones(500)], mapped, rcond=None)
    np.testing.assert_allclose(A[:3], A[:3].T, atol=1e-8)
    assert np.linalg.eigvalsh(A[:3]).min() > 0


def test_gaussian_alignment_handles_a_singular_source_covariance():
    tokens = np.zeros((5, 3))
    tokens[:, 0] = np.arange(5.0)  # variance in one coordinate only
    covariance = np.cov(tokens, rowvar=False, bias=True)
    with pytest.raises(np.linalg.LinAlgError):  # POT alone cannot invert it
        ot.gaussian.bures_wasserstein_mapping(tokens.mean(axis=0), np.ones(3), covariance,
                                              np.eye(3))
    mapped = gaussian_alignment(tokens, np.ones(3), np.eye(3))
    assert np.all(np.isfinite(mapped))
    np.testing.assert_allclose(mapped.mean(axis=0), np.ones(3), atol=1e-9)
    np.testing.assert_allclose(mapped[:, 1:], 1.0, atol=1e-9)  # constant coordinates -> mean
    np.testing.assert_allclose(mapped[:, 0].var(), 1.0, rtol=1e-6)


def test_gaussian_alignment_with_a_zero_padded_coordinate_and_fewer_target_dimensions():
    rng = np.random.default_rng(1)
    tokens = rng.normal(size=(200, 1)) * 2.0 + 1.0
    mapped = gaussian_alignment(tokens, [0.0, 6.0], 0.5 * np.eye(2))  # d = 1 < p = 2
    np.testing.assert_allclose(mapped.mean(axis=0), [0.0, 6.0], atol=1e-9)
    np.testing.assert_allclose(mapped[:, 0].var(), 0.5, rtol=1e-6)
    np.testing.assert_allclose(mapped[:, 1], 6.0, atol=1e-9)  # the padded coordinate
    standardized = (tokens[:, 0] - tokens[:, 0].mean()) / tokens[:, 0].std()
    np.testing.assert_allclose(mapped[:, 0], np.sqrt(0.5) * standardized,
                               rtol=1e-6, atol=1e-9)
    # d = 3 > p = 2: the map of the first two coordinates, whatever the third is.
    wide = rng.normal(size=(200, 3))
    shuffled = wide.copy()
    shuffled[:, 2] = rng.permutation(wide[:, 2]) * 10.0
    np.testing.assert_array_equal(gaussian_alignment(wide, [0.0, 6.0], np.eye(2)),
                                  gaussian_alignment(shuffled, [0.0, 6.0], np.eye(2)))
    np.testing.assert_allclose(gaussian_alignment(wide, [0.0, 6.0], np.eye(2)),
                               gaussian_alignment(wide[:, :2], [0.0, 6.0], np.eye(2)))
    # One token goes to the target mean.
    np.testing.assert_allclose(gaussian_alignment(np.ones((1, 2)), [0.0, 6.0], np.eye(2)),
                               [[0.0, 6.0]], atol=1e-9)


def test_gaussian_alignment_refuses_a_bad_target():
    tokens = np.ones((4, 2))
    with pytest.raises(ValueError, match="target_cov must be symmetric positive definite"):
        gaussian_alignment(tokens, [0.0, 0.0], np.diag([1.0, 0.0]))
    with pytest.raises(ValueError, match="target_mean must have shape"):
        gaussian_alignment(tokens, [0.0, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        gaussian_alignment(np.array([[np.nan, 0.0]]), [0.0, 0.0], np.eye(2))
