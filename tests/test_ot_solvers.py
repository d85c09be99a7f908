"""The OT solvers the metrics and the OT classifier share: the exact assignment (its identity
certificate, its routes and its refusals) against POT's network simplex and scipy's
linear_sum_assignment, and the batched Sinkhorn plan against POT."""

import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from otcompanion import metrics, ot_solvers


def clouds(n_per_class=(30, 30), n_tokens=1, d=2, seed=0):
    """Instances of random tokens, classes in blocks, labels 0, 1, …"""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = rng.normal(size=(len(labels), n_tokens, d)) + 3.0 * labels[:, None, None]
    return X, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_assignment_agrees_with_linear_sum_assignment(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 0.5
    assignment, cost = metrics.exact_ot_assignment(x, y)
    cost_matrix = cdist(x, y, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost_matrix)
    assert cost == pytest.approx(cost_matrix[rows, cols].sum(), rel=1e-12)
    assert sorted(assignment) == list(range(60))
    assert cost == pytest.approx(np.sum((x - y[assignment]) ** 2), rel=1e-12)



def test_non_converging_emd_is_an_error():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 2)), rng.normal(size=(80, 2))
    with pytest.raises(RuntimeError, match="did not converge"):
        metrics.exact_ot_assignment(x, y, num_iter_max=10)



def test_emd_warning_in_log_is_an_error(monkeypatch):
    def fake_emd(a, b, M, numItermax=100000, log=False, **kwargs):
        plan = np.eye(len(a))
        return plan, {"cost": 0.0, "warning": "numItermax reached before optimality.",
                      "result_code": 3}

    monkeypatch.setattr(ot, "emd", fake_emd)
    X, labels = clouds()
    # An end unrelated to the start, so that ot.emd is needed (a translation X + 1 is certified
    # optimal without a solver).
    E = np.random.default_rng(1).normal(size=X.shape)
    with pytest.raises(RuntimeError, match="did not converge"):
        metrics.thesis_metrics([X, E], labels)



def emd_reference(x, y):
    """The optimal permutation and cost of ot.emd on the full n x n plan (the previous method)."""
    cost_matrix = cdist(x, y, "sqeuclidean")
    ones = np.ones(len(x))
    plan = ot.emd(ones, ones, cost_matrix, numItermax=10**7)
    permutation = plan.argmax(axis=1)
    return permutation, float(cost_matrix[np.arange(len(x)), permutation].sum())



@pytest.fixture(autouse=True)
def forget_recent_solutions():
    """Every test starts without remembered solver runs (the route tests count solver calls)."""
    ot_solvers._recent.clear()
    ot_solvers._recent_pairs = 0
    yield
    ot_solvers._recent.clear()
    ot_solvers._recent_pairs = 0


@pytest.fixture
def solver_calls(monkeypatch):
    """Count the calls of the two solvers behind exact_ot_assignment."""
    calls = {"linear_sum_assignment": 0, "emd": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(ot_solvers, "linear_sum_assignment",
                        counted("linear_sum_assignment", ot_solvers.linear_sum_assignment))
    monkeypatch.setattr(ot, "emd", counted("emd", ot.emd))
    return calls



def related_clouds(relation, d, n=240, seed=0):
    """A source cloud and a target related to it as named (n points in dimension d)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    shift = rng.normal(size=d)
    if relation == "translation":
        return x, x + shift
    if relation == "tiny noise":  # far below the distance between neighbours
        return x, x + shift + 1e-7 * rng.normal(size=(n, d))
    if relation == "small noise":  # of the order of that distance: some points change partner
        return x, x + shift + 0.03 * rng.normal(size=(n, d))
    if relation == "few jumps":  # a shared shift, and 3% of the points jump far
        y = x + shift
        jumpers = rng.choice(n, size=n * 3 // 100, replace=False)
        y[jumpers] += 2.0 * rng.normal(size=(len(jumpers), d))
        return x, y
    if relation == "dilation":  # the gradient of a convex function: the identity is optimal
        return x, 1.3 * x + shift
    if relation == "unrelated":
        return x, rng.normal(size=(n, d)) + shift
    raise ValueError(relation)



@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("relation", ["translation", "tiny noise", "small noise", "few jumps",
                                      "dilation", "unrelated"])
def test_exact_assignment_equals_emd_on_the_full_plan(relation, d):
    x, y = related_clouds(relation, d, seed=d)
    assignment, cost = metrics.exact_ot_assignment(x, y)
    expected_assignment, expected_cost = emd_reference(x, y)
    # Points in general position have a unique optimal permutation: the same plan, the same cost.
    np.testing.assert_array_equal(assignment, expected_assignment)
    assert cost == expected_cost
    uniform = np.full(len(x), 1.0 / len(x))
    w2 = np.sqrt(ot.emd2(uniform, uniform, cdist(x, y, "sqeuclidean"), numItermax=10**7))
    assert np.sqrt(cost / len(x)) == pytest.approx(w2, rel=1e-9)



@pytest.mark.parametrize("relation, solver", [
    ("translation", None), ("tiny noise", None), ("few jumps", "linear_sum_assignment"),
    ("unrelated", "emd"),
])
def test_exact_assignment_takes_the_expected_route(relation, solver, solver_calls):
    x, y = related_clouds(relation, 2)
    metrics.exact_ot_assignment(x, y)
    expected = {"linear_sum_assignment": 0, "emd": 0}
    if solver is not None:
        expected[solver] = 1
    assert solver_calls == expected



def test_a_pair_solved_before_is_not_solved_again(solver_calls):
    x, y = related_clouds("few jumps", 2)
    assignment, cost = metrics.exact_ot_assignment(x, y)
    assignment[:] = 0  # the caller's copy: the remembered result must not change
    again, cost_again = metrics.exact_ot_assignment(x.copy(), y.copy())
    assert solver_calls["linear_sum_assignment"] == 1
    np.testing.assert_array_equal(again, emd_reference(x, y)[0])
    assert cost_again == cost
    # One bit of difference, another iteration budget or another shape is another pair.
    y_changed = y.copy()
    y_changed[7, 1] = np.nextafter(y_changed[7, 1], np.inf)
    metrics.exact_ot_assignment(x, y_changed)
    metrics.exact_ot_assignment(x, y, num_iter_max=10**7)
    metrics.exact_ot_assignment(x[:, None, :], y[:, None, :])  # tokens: the same flattened pair
    assert solver_calls["linear_sum_assignment"] == 3


def test_remembered_solutions_are_bounded(monkeypatch, solver_calls):
    monkeypatch.setattr(ot_solvers, "RECENT_PAIRS", 500)
    pairs = [related_clouds("unrelated", 2, seed=seed) for seed in range(3)]  # 240 points each
    for x, y in pairs:
        metrics.exact_ot_assignment(x, y)
    assert len(ot_solvers._recent) == 2  # 3 x 240 > 500: the oldest was forgotten
    metrics.exact_ot_assignment(*pairs[0])
    assert solver_calls["emd"] == 4
    metrics.exact_ot_assignment(*pairs[2])
    assert solver_calls["emd"] == 4


def test_certified_pairs_are_not_remembered():
    metrics.exact_ot_assignment(*related_clouds("translation", 2))
    assert not ot_solvers._recent


def test_swapped_points_are_not_certified_as_identity(solver_calls):
    # A shared shift for all points but two that trade places: the identity costs 2 |x_a - x_b|^2
    # more than the optimum, which swaps them back. A certificate that looked only at each
    # point's own displacement would accept the identity.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(100, 2))
    y = x + np.array([0.5, -0.25])
    y[[3, 70]] = y[[70, 3]]
    assignment, cost = metrics.exact_ot_assignment(x, y)
    assert assignment[3] == 70 and assignment[70] == 3
    assert cost == pytest.approx(100 * 0.3125, rel=1e-12)
    assert solver_calls["linear_sum_assignment"] == 1



def test_duplicate_points_give_the_optimal_cost():
    # Ties between optimal permutations: the cost is still the optimum (the plan may differ).
    rng = np.random.default_rng(6)
    x = np.repeat(rng.normal(size=(40, 2)), 3, axis=0)
    for y in (x + 0.1, x + 0.01 * rng.normal(size=x.shape), rng.normal(size=x.shape)):
        assert metrics.exact_ot_assignment(x, y)[1] == pytest.approx(emd_reference(x, y)[1],
                                                                    rel=1e-9)



def test_exact_ot_refuses_clouds_over_the_memory_bound():
    x = np.zeros((6, 2))
    with pytest.raises(ValueError, match=r"6 points.*288 bytes.*max_points=5"):
        metrics.exact_ot_assignment(x, x, max_points=5)



def test_exact_ot_rejects_clouds_of_different_sizes():
    with pytest.raises(ValueError, match="same number of points"):
        metrics.exact_ot_assignment(np.zeros((5, 2)), np.zeros((4, 2)))



def softmax(logits):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)



def test_vectorized_sinkhorn_agrees_with_pot():
    rng = np.random.default_rng(30)
    logits = 2.0 * rng.normal(size=(3, 4, 6, 6))
    plan, error = metrics.sinkhorn_uniform_plan(-logits, epsilon=1.0, tol=1e-12)
    assert plan.shape == logits.shape and error.shape == (3, 4)
    assert np.all(error <= 1e-12)
    uniform = np.full(6, 1 / 6)
    for index in np.ndindex(3, 4):
        expected = ot.sinkhorn(uniform, uniform, -logits[index], reg=1.0, stopThr=1e-14,
                               numItermax=100000)
        np.testing.assert_allclose(plan[index], expected, rtol=0, atol=1e-11)



def test_vectorized_sinkhorn_survives_huge_logits_and_other_epsilon():
    rng = np.random.default_rng(31)
    cost = 800.0 * rng.normal(size=(2, 5, 4))  # exp overflows in the scaling domain
    plan, _ = metrics.sinkhorn_uniform_plan(cost, epsilon=1.0, max_iter=50)
    assert np.all(np.isfinite(plan))
    np.testing.assert_allclose(plan.sum(axis=-2), 0.25)  # columns are exact every iteration
    small = rng.normal(size=(5, 4))
    plan, _ = metrics.sinkhorn_uniform_plan(small, epsilon=0.5, tol=1e-13)
    expected = ot.sinkhorn(np.full(5, 0.2), np.full(4, 0.25), small, reg=0.5, stopThr=1e-14,
                           numItermax=100000)
    np.testing.assert_allclose(plan, expected, rtol=0, atol=1e-11)

