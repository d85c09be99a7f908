import numpy as np
import ot
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from otcompanion import metrics


def clouds(n_per_class=(30, 30), n_tokens=1, d=2, seed=0):
    """Instances of random tokens, classes in blocks, labels 0, 1, …"""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = rng.normal(size=(len(labels), n_tokens, d)) + 3.0 * labels[:, None, None]
    return X, labels


def straight_path(start, end, n_steps):
    """Constant-speed straight lines from start to end, n_steps + 1 recorded positions."""
    return [(1 - s) * start + s * end for s in np.linspace(0.0, 1.0, n_steps + 1)]


# ---------------------------------------------------------------------------------------------
# Exact OT
# ---------------------------------------------------------------------------------------------


def test_wasserstein_agrees_with_linear_sum_assignment_per_class():
    X, labels = clouds((25, 35), n_tokens=2, seed=3)
    E = np.random.default_rng(4).normal(size=X.shape)
    result = metrics.thesis_metrics([X, E], labels)
    expected = 0.0
    for c in (0, 1):
        cost = cdist(X[labels == c].reshape(-1, 2), E[labels == c].reshape(-1, 2), "sqeuclidean")
        rows, cols = linear_sum_assignment(cost)
        expected += np.sqrt(cost[rows, cols].sum())
    assert result["wasserstein"] == pytest.approx(expected, rel=1e-12)


# Equivalence with the previous implementation: ot.emd on the full plan, for every pair.


# ---------------------------------------------------------------------------------------------
# Thesis metrics
# ---------------------------------------------------------------------------------------------

def test_thesis_metrics_have_exactly_the_thesis_keys():
    X, labels = clouds()
    assert set(metrics.thesis_metrics([X, X + 1], labels)) == set(metrics.THESIS_METRICS)
    assert len(metrics.THESIS_METRICS) == 7


def test_identity_map_is_optimal_with_zero_monge_gap():
    X, labels = clouds(n_tokens=3)
    rng = np.random.default_rng(1)
    middle = X + rng.normal(size=X.shape)  # the points wander and come back
    result = metrics.thesis_metrics([X, middle, X], labels)
    assert result["transformer_distance"] == 0.0
    assert result["wasserstein"] == 0.0
    assert result["optimality"] == 1.0
    assert result["monge_gap"] == 0.0
    assert result["matching"] == 1.0
    assert result["step_cost"] > 0
    assert result["efficiency"] == 0.0


def test_no_motion_defines_optimality_one_and_efficiency_nan():
    X, labels = clouds()
    result = metrics.thesis_metrics([X, X], labels)
    assert result["optimality"] == 1.0
    assert result["step_cost"] == 0.0
    assert np.isnan(result["efficiency"])
    assert metrics.straightness([X, X]) == 1.0
    assert metrics.w2_path_efficiency([X, X], labels) == 1.0


def test_translation_is_optimal():
    X, labels = clouds(n_tokens=4)
    v = np.array([2.5, -1.0])
    result = metrics.thesis_metrics([X, X + v], labels)
    assert result["optimality"] == pytest.approx(1.0, abs=1e-12)
    assert result["monge_gap"] == pytest.approx(0.0, abs=1e-9)
    assert result["matching"] == 1.0
    n_per_class = np.array([30, 30]) * 4
    assert result["transformer_distance"] == pytest.approx(
        np.sqrt(n_per_class).sum() * np.linalg.norm(v))


def test_permuting_end_points_within_a_class_keeps_wasserstein():
    X, labels = clouds((40, 30), seed=5)
    E = np.random.default_rng(6).normal(size=X.shape)
    shuffled = E.copy()
    rng = np.random.default_rng(7)
    for c in (0, 1):
        rows = np.flatnonzero(labels == c)
        shuffled[rows] = E[rng.permutation(rows)]
    before = metrics.thesis_metrics([X, E], labels)
    after = metrics.thesis_metrics([X, shuffled], labels)
    assert after["wasserstein"] == pytest.approx(before["wasserstein"], rel=1e-12)
    assert after["transformer_distance"] != pytest.approx(before["transformer_distance"])


def test_permuting_end_points_across_classes_changes_wasserstein():
    X, labels = clouds((40, 30), seed=5)
    E = np.random.default_rng(6).normal(size=X.shape) + 5.0 * labels[:, None, None]
    swapped = E[::-1]  # mixes the classes: the clouds themselves change
    before = metrics.thesis_metrics([X, E], labels)["wasserstein"]
    assert metrics.thesis_metrics([X, swapped], labels)["wasserstein"] != pytest.approx(before)


def test_random_end_is_not_optimal():
    X, labels = clouds(seed=8)
    E = np.random.default_rng(9).normal(size=X.shape)
    result = metrics.thesis_metrics([X, E], labels)
    assert 0 < result["optimality"] < 1
    assert result["monge_gap"] > 0
    assert result["matching"] < 1
    assert result["monge_gap"] == pytest.approx(
        result["transformer_distance"] - result["wasserstein"])


def test_efficiency_of_straight_equal_length_paths_is_the_thesis_bound():
    # 2 classes of 450 points, as in the thesis: sum_c sqrt(n_c) / n = 2 sqrt(450) / 900.
    rng = np.random.default_rng(10)
    X, labels = clouds((450, 450), seed=10)
    directions = rng.normal(size=X.shape)
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    result = metrics.thesis_metrics(straight_path(X, X + 0.7 * directions, 5), labels)
    assert result["efficiency"] == pytest.approx(2 * np.sqrt(450) / 900, rel=1e-9)
    assert metrics.equal_length_efficiency(labels) == pytest.approx(
        result["efficiency"], rel=1e-9)
    assert result["efficiency"] == pytest.approx(0.047, abs=5e-4)
    assert result["step_cost"] == pytest.approx(900 * 0.7, rel=1e-9)


def test_tokens_are_flattened_into_class_clouds():
    X, labels = clouds((5, 7), n_tokens=4, seed=11)
    E = np.random.default_rng(12).normal(size=X.shape)
    as_tokens = metrics.thesis_metrics([X, E], labels)
    as_table = metrics.thesis_metrics([X.reshape(-1, 2), E.reshape(-1, 2)], np.repeat(labels, 4))
    assert as_tokens == pytest.approx(as_table)


def test_per_class_table_adds_up_to_the_totals():
    X, labels = clouds((20, 30, 10), n_tokens=2, seed=13)
    rng = np.random.default_rng(14)
    trajectory = [X, X + rng.normal(size=X.shape), X + rng.normal(size=X.shape)]
    result, table = metrics.thesis_metrics(trajectory, labels, per_class=True)
    assert isinstance(table, pd.DataFrame)
    assert list(table["class"]) == [0, 1, 2]
    assert list(table["n_points"]) == [40, 60, 20]
    for key in ("transformer_distance", "wasserstein", "step_cost", "monge_gap"):
        assert table[key].sum() == pytest.approx(result[key])
    assert np.average(table["matching"], weights=table["n_points"]) == pytest.approx(
        result["matching"])
    assert (table["optimality"] == table["wasserstein"] / table["transformer_distance"]).all()


def test_string_labels_are_classes():
    X, labels = clouds((10, 10))
    names = np.where(labels == 0, "benign", "malignant")
    result, table = metrics.thesis_metrics([X, X + 1], names, per_class=True)
    assert list(table["class"]) == ["benign", "malignant"]
    assert result == pytest.approx(metrics.thesis_metrics([X, X + 1], labels))


# ---------------------------------------------------------------------------------------------
# Straightness and W2 path efficiency
# ---------------------------------------------------------------------------------------------

def test_straight_constant_speed_paths_have_straightness_and_w2_efficiency_one():
    X, labels = clouds((40, 40), seed=15)
    # E = X A + b with A symmetric positive definite is the gradient of a convex function, hence
    # the optimal map: the straight constant-speed paths are a W2 geodesic (McCann interpolant).
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    trajectory = straight_path(X, X @ A + np.array([1.0, -2.0]), 6)
    assert metrics.straightness(trajectory, labels) == pytest.approx(1.0, abs=1e-12)
    value, table = metrics.w2_path_efficiency(trajectory, labels, per_class=True)
    assert value == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(table["w2_path_efficiency"], 1.0, atol=1e-9)
    assert metrics.thesis_metrics(trajectory, labels)["optimality"] == pytest.approx(1.0)


def test_detours_lower_straightness_and_w2_path_efficiency():
    X, labels = clouds((40, 40), seed=16)
    E = X + np.array([3.0, 0.0])
    detour = [X, X + np.array([1.5, 4.0]), E]
    assert metrics.straightness(detour) == pytest.approx(3.0 / (2 * np.hypot(1.5, 4.0)))
    assert metrics.w2_path_efficiency(detour, labels) == pytest.approx(3.0 / (2 * np.hypot(1.5, 4)))


def test_w2_path_efficiency_ignores_which_point_is_which():
    X, labels = clouds((30, 30), seed=17)
    E = X + 2.0
    rng = np.random.default_rng(18)
    scrambled = X.copy()
    for c in (0, 1):
        rows = np.flatnonzero(labels == c)
        scrambled[rows] = X[rng.permutation(rows)]
    trajectory = [X, scrambled, E]  # the distribution does not move in the first step
    assert metrics.w2_path_efficiency(trajectory, labels) == pytest.approx(1.0, abs=1e-9)
    assert metrics.straightness(trajectory) < 1


def test_straightness_per_class_table():
    X, labels = clouds((10, 20), seed=19)
    trajectory = [X, X + np.array([1.0, 0.0]), X + np.array([1.0, 1.0])]
    value, table = metrics.straightness(trajectory, labels, per_class=True)
    assert value == pytest.approx(np.sqrt(2) / 2)
    np.testing.assert_allclose(table["straightness"], np.sqrt(2) / 2)
    assert list(table["n_points"]) == [10, 20]


def test_w2_path_efficiency_is_the_mean_over_classes():
    X, labels = clouds((20, 20), seed=20)
    shift = np.where(labels[:, None, None] == 0, 1.0, 0.0) * np.array([1.0, 0.0])
    trajectory = [X, X + shift + np.array([0.0, 1.0]) * (labels[:, None, None] == 1), X + shift]
    value, table = metrics.w2_path_efficiency(trajectory, labels, per_class=True)
    np.testing.assert_allclose(table["w2_path_efficiency"], [1.0, 0.0], atol=1e-9)
    assert value == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------------------------

def test_metric_curves_last_row_is_the_full_trajectory():
    X, labels = clouds((15, 15), n_tokens=2, seed=21)
    rng = np.random.default_rng(22)
    trajectory = [X]
    for _ in range(6):
        trajectory.append(trajectory[-1] + 0.3 * rng.normal(size=X.shape) + 0.1)
    curves, by_class = metrics.metric_curves(trajectory, labels, per_class=True)
    assert list(curves["epoch"]) == [1, 2, 3, 4, 5, 6]
    last = curves.iloc[-1]
    assert last[list(metrics.THESIS_METRICS)].to_dict() == pytest.approx(
        metrics.thesis_metrics(trajectory, labels))
    assert last["straightness"] == pytest.approx(metrics.straightness(trajectory))
    assert last["w2_path_efficiency"] == pytest.approx(
        metrics.w2_path_efficiency(trajectory, labels))
    middle = curves.set_index("epoch").loc[3]
    assert middle[list(metrics.THESIS_METRICS)].to_dict() == pytest.approx(
        metrics.thesis_metrics(trajectory[:4], labels))
    assert middle["w2_path_efficiency"] == pytest.approx(
        metrics.w2_path_efficiency(trajectory[:4], labels))
    assert curves["step_cost"].is_monotonic_increasing
    assert len(by_class) == 12 and set(by_class["class"]) == {0, 1}
    final = by_class[by_class["epoch"] == 6].reset_index(drop=True)
    _, table = metrics.thesis_metrics(trajectory, labels, per_class=True)
    pd.testing.assert_frame_equal(final[table.columns], table, check_dtype=False)


# ---------------------------------------------------------------------------------------------
# Monge gap of Uscidda & Cuturi
# ---------------------------------------------------------------------------------------------

def test_monge_gap_of_the_identity_is_zero():
    x = np.random.default_rng(23).normal(size=(50, 3))
    assert metrics.monge_gap(x, x) == 0.0


def test_entropic_monge_gap_of_an_optimal_map_is_slightly_negative_and_vanishes():
    x = np.random.default_rng(24).normal(size=(30, 2))
    gaps = [metrics.monge_gap(x, x, epsilon=eps) for eps in (2.0, 1.0, 0.5)]
    assert all(gap < 0 for gap in gaps)  # <P_eps, C> > W_c = 0 for any eps > 0
    assert all(gap >= -eps * np.log(30) for gap, eps in zip(gaps, (2.0, 1.0, 0.5)))
    assert abs(gaps[0]) > abs(gaps[1]) > abs(gaps[2])
    assert abs(gaps[2]) < 0.5


def test_monge_gap_of_an_optimal_map_is_zero_and_of_a_shuffle_positive():
    x = np.random.default_rng(25).normal(size=(60, 2))
    A = np.array([[1.5, 0.3], [0.3, 0.8]])  # symmetric positive definite: an optimal map
    assert metrics.monge_gap(x, x @ A + 1.0) == pytest.approx(0.0, abs=1e-10)
    shuffled = (x @ A)[np.random.default_rng(26).permutation(60)]
    exact = metrics.monge_gap(x, shuffled)
    cost = cdist(x, shuffled, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    assert exact == pytest.approx(np.mean(np.sum((x - shuffled) ** 2, axis=1))
                                  - cost[rows, cols].mean())
    assert exact > 0
    entropic = [metrics.monge_gap(x, shuffled, epsilon=eps) for eps in (1.0, 0.3)]
    assert entropic[0] < entropic[1] <= exact
    # W_c <= <P_eps, C> <= W_c + eps log n
    assert exact - 0.3 * np.log(60) <= entropic[1]
    assert entropic[1] == pytest.approx(exact, rel=0.2)


def test_monge_gap_entropic_uses_the_transport_cost_of_the_sinkhorn_plan():
    rng = np.random.default_rng(27)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    weights = np.full(30, 1 / 30)
    cost = ot.dist(x, y)
    expected = np.mean(np.sum((x - y) ** 2, axis=1)) - ot.sinkhorn2(
        weights, weights, cost, reg=0.3, method="sinkhorn_log", stopThr=1e-12, numItermax=10000)
    assert metrics.monge_gap(x, y, epsilon=0.3) == pytest.approx(expected, rel=1e-7)


def test_monge_gap_accepts_token_arrays():
    X, _ = clouds((4, 4), n_tokens=5)
    Y = np.random.default_rng(28).normal(size=X.shape)
    assert metrics.monge_gap(X, Y) == pytest.approx(metrics.monge_gap(X.reshape(-1, 2),
                                                                      Y.reshape(-1, 2)))


def test_monge_gap_rejects_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="mapped"):
        metrics.monge_gap(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="epsilon"):
        metrics.monge_gap(x, x, epsilon=0.0)
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="mapped contains NaN"):
        metrics.monge_gap(x, bad)


def test_entropic_monge_gap_that_does_not_converge_warns():
    rng = np.random.default_rng(29)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    with pytest.warns(RuntimeWarning, match="Sinkhorn did not converge.*marginals are off"):
        gap = metrics.monge_gap(x, y, epsilon=0.01, max_iter=20)
    assert np.isfinite(gap)


# ---------------------------------------------------------------------------------------------
# Attention as a coupling
# ---------------------------------------------------------------------------------------------


def softmax(logits):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def test_doubly_stochastic_attention_has_no_column_deviation_and_is_the_sinkhorn_plan():
    T = 7
    # Circulant logits: every row is a shift of the first, so softmax is doubly stochastic and
    # equal, divided by T, to the Sinkhorn plan of the logits.
    first = np.random.default_rng(32).normal(size=T)
    logits = np.stack([np.roll(first, k) for k in range(T)])[None]
    frame = metrics.attention_coupling_metrics(softmax(logits), logits)
    assert frame["column_deviation"].iloc[0] == pytest.approx(0.0, abs=1e-15)
    assert frame["tv_to_sinkhorn"].iloc[0] == pytest.approx(0.0, abs=1e-10)
    permutation = np.eye(T)[np.random.default_rng(33).permutation(T)]
    assert metrics.attention_coupling_metrics(permutation)["column_deviation"].iloc[0] == 0.0


def test_attention_metrics_table_and_values():
    rng = np.random.default_rng(34)
    logits = 1.5 * rng.normal(size=(2, 3, 5, 5))
    A = softmax(logits)
    frame = metrics.attention_coupling_metrics(A, logits, index_names=["instance", "head"])
    assert list(frame.columns) == ["instance", "head", "column_deviation", "tv_to_sinkhorn",
                                   "sinkhorn_error"]
    assert len(frame) == 6
    row = frame.iloc[4]
    i, h = int(row["instance"]), int(row["head"])
    assert (i, h) == (1, 1)
    assert row["column_deviation"] == pytest.approx(0.5 * np.abs(A[i, h].sum(0) / 5 - 0.2).sum())
    uniform = np.full(5, 0.2)
    plan = ot.sinkhorn(uniform, uniform, -logits[i, h], reg=1.0, stopThr=1e-13, numItermax=10**5)
    assert row["tv_to_sinkhorn"] == pytest.approx(0.5 * np.abs(A[i, h] / 5 - plan).sum())
    # Total variation only shrinks when projecting a coupling on its column marginal.
    assert (frame["tv_to_sinkhorn"] >= frame["column_deviation"] - 1e-12).all()
    assert (frame["column_deviation"] > 0).all()
    only_columns = metrics.attention_coupling_metrics(A)
    assert list(only_columns.columns) == ["axis_0", "axis_1", "column_deviation"]


def test_attention_metrics_reject_bad_input():
    A = softmax(np.random.default_rng(35).normal(size=(2, 4, 4)))
    with pytest.raises(ValueError, match="row-stochastic.*matrix \\(1,\\) row 2"):
        broken = A.copy()
        broken[1, 2] *= 2
        metrics.attention_coupling_metrics(broken)
    with pytest.raises(ValueError, match="logits must have the shape"):
        metrics.attention_coupling_metrics(A, np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="attention contains NaN"):
        broken = A.copy()
        broken[0, 0, 0] = np.nan
        metrics.attention_coupling_metrics(broken)
    with pytest.raises(ValueError, match="index_names"):
        metrics.attention_coupling_metrics(A, index_names=["instance", "head"])


def random_walk(n_per_class=(30, 25), n_tokens=3, n_steps=12, seed=40):
    """A trajectory mixing still, drifting, noisy, jumping and unrelated steps."""
    rng = np.random.default_rng(seed)
    X, labels = clouds(n_per_class, n_tokens=n_tokens, seed=seed)
    trajectory = [X]
    for t in range(n_steps):
        step = trajectory[-1] + rng.normal(scale=0.2, size=2)  # a shared drift
        if t % 3 == 1:
            step = step + 0.05 * rng.normal(size=X.shape)
        if t % 4 == 2:
            jumpers = rng.random(len(X)) < 0.1
            step[jumpers] += rng.normal(size=step[jumpers].shape)
        if t == 7:
            step = rng.normal(size=X.shape) + 3.0 * labels[:, None, None]
        trajectory.append(step)
    return trajectory, labels


def test_metric_curves_equal_a_reference_with_emd2_at_every_step():
    trajectory, labels = random_walk()
    curves, by_class = metrics.metric_curves(trajectory, labels, per_class=True)
    steps = np.stack(trajectory)  # (n_steps, n, T, d)
    last = len(steps) - 1
    expected = {name: np.zeros(last) for name in ("wasserstein", "w2_path_efficiency")}
    for c in (0, 1):
        cloud = steps[:, labels == c].reshape(len(steps), -1, 2)
        n_c = cloud.shape[1]
        uniform = np.full(n_c, 1.0 / n_c)

        def w2(a, b):
            cost = cdist(cloud[a], cloud[b], "sqeuclidean")
            return np.sqrt(ot.emd2(uniform, uniform, cost, numItermax=10**7))

        w2_path = np.cumsum([w2(t, t + 1) for t in range(last)])
        w2_start = np.array([w2(0, t) for t in range(1, last + 1)])
        expected["wasserstein"] += np.sqrt(n_c) * w2_start  # the thesis's W_c: sqrt of a sum
        expected["w2_path_efficiency"] += 0.5 * w2_start / w2_path  # mean over the two classes
        rows = by_class[by_class["class"] == c]
        np.testing.assert_allclose(rows["wasserstein"], np.sqrt(n_c) * w2_start, rtol=1e-9)
        ones = np.ones(n_c)
        matching = [np.trace(ot.emd(ones, ones, cdist(cloud[0], cloud[t], "sqeuclidean"),
                                    numItermax=10**7)) / n_c for t in range(1, last + 1)]
        np.testing.assert_array_equal(rows["matching"], matching)
    assert list(curves["epoch"]) == list(range(1, last + 1))
    for name, values in expected.items():
        np.testing.assert_allclose(curves[name], values, rtol=1e-9)
    assert curves["optimality"].between(0, 1 + 1e-12).all()
    assert (curves["matching"] < 1).any() and (curves["matching"] == 1).any()
    value = metrics.w2_path_efficiency(trajectory, labels)
    assert value == pytest.approx(expected["w2_path_efficiency"][-1], rel=1e-9)


def test_metric_curves_at_some_steps_equal_the_full_curves_there():
    X, labels = clouds((10, 12), n_tokens=2, seed=23)
    rng = np.random.default_rng(24)
    trajectory = [X]
    for _ in range(7):
        trajectory.append(trajectory[-1] + 0.4 * rng.normal(size=X.shape))
    full, full_by_class = metrics.metric_curves(trajectory, labels, per_class=True)
    some, some_by_class = metrics.metric_curves(trajectory, labels, per_class=True,
                                                steps=[7, 2, 5, 2])
    assert list(some["epoch"]) == [2, 5, 7]
    expected = full[full["epoch"].isin([2, 5, 7])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, expected)
    expected = full_by_class[full_by_class["epoch"].isin([2, 5, 7])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some_by_class, expected)


@pytest.mark.parametrize("steps, error, message", [
    ([0], ValueError, "step 0 is outside the trajectory: steps must lie between 1 and 3"),
    ([4], ValueError, "step 4 is outside"), ([1.5], TypeError, "steps entry must be an integer"),
    ([], ValueError, "steps is empty"),
])
def test_metric_curves_rejects_bad_steps(steps, error, message):
    X, labels = clouds()
    with pytest.raises(error, match=message):
        metrics.metric_curves([X, X + 1, X + 2, X + 3], labels, steps=steps)


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------

def test_mismatched_labels_are_rejected():
    X, labels = clouds()
    with pytest.raises(ValueError, match="labels must hold one label per instance.*60"):
        metrics.thesis_metrics([X, X], labels[:-1])
    with pytest.raises(ValueError, match="labels"):
        metrics.w2_path_efficiency([X, X], labels[:, None])
    with pytest.raises(ValueError, match="labels contains NaN"):
        metrics.metric_curves([X, X], np.where(labels == 0, np.nan, 1.0))


def test_single_step_trajectory_is_rejected():
    X, labels = clouds()
    with pytest.raises(ValueError, match="trajectory must have at least two steps"):
        metrics.thesis_metrics([X], labels)
    with pytest.raises(ValueError, match="trajectory must have at least two steps"):
        metrics.straightness([X])


def test_steps_of_different_shapes_are_rejected():
    X, labels = clouds(n_tokens=3)
    with pytest.raises(ValueError, match=r"trajectory\[2\] has shape \(60, 2, 2\)"):
        metrics.thesis_metrics([X, X, X[:, :2]], labels)


def test_nan_in_trajectory_is_rejected():
    X, labels = clouds()
    bad = X.copy()
    bad[7, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"trajectory\[1\] contains NaN.*instance 7"):
        metrics.metric_curves([X, bad, X], labels)


def test_wrong_dimensions_are_rejected():
    with pytest.raises(ValueError, match=r"trajectory\[0\] must have shape"):
        metrics.thesis_metrics([np.zeros(5), np.zeros(5)], np.zeros(5))
    with pytest.raises(ValueError, match="per_class"):
        metrics.straightness([np.zeros((3, 2)), np.ones((3, 2))], per_class=True)


def test_equal_length_efficiency_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must be a non-empty 1-D array"):
        metrics.equal_length_efficiency([])
    with pytest.raises(ValueError, match="n_tokens must be at least 1"):
        metrics.equal_length_efficiency([0, 1], n_tokens=0)
    with pytest.raises(TypeError, match="n_tokens must be an integer"):
        metrics.equal_length_efficiency([0, 1], n_tokens=2.0)


def test_empty_clouds_and_trajectories_are_rejected():
    with pytest.raises(ValueError, match=r"trajectory\[0\] is empty"):
        metrics.thesis_metrics([np.zeros((0, 2, 2))] * 2, np.array([]))
    with pytest.raises(ValueError, match="source is empty"):
        metrics.monge_gap(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="source is empty"):
        metrics.exact_ot_assignment(np.zeros((0, 2)), np.zeros((0, 2)))


def test_map_metrics_monge_gap_matches_uscidda_cuturi_class_by_class():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(12, 5, 2))
    labels = np.repeat([0, 1, 2], 4)
    mapped = source + rng.normal(size=source.shape)
    result = metrics.map_metrics(source, mapped, labels)
    n = source.shape[0] * source.shape[1]
    expected = sum(
        metrics.monge_gap(source[labels == c], mapped[labels == c]) * (labels == c).sum() * 5
        for c in range(3)) / n
    assert result["uc_monge_gap"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result["mean_displacement"] == pytest.approx(
        np.linalg.norm(mapped - source, axis=-1).mean())
    shifted = metrics.map_metrics(source, source + np.array([3.0, -1.0]), labels)
    assert shifted["uc_monge_gap"] == pytest.approx(0, abs=1e-9)
    assert shifted["optimality"] == pytest.approx(1.0) and shifted["matching"] == 1.0


def test_map_metrics_residual_after_class_translations_matches_a_direct_solve():
    rng = np.random.default_rng(3)
    source, labels = rng.normal(size=(12, 6, 3)), np.repeat([0, 1, 2], 4)
    shifts = np.array([[5.0, 0, 0], [0, -4, 0], [1, 1, 1]])[labels][:, None, :]
    mapped = source + shifts + 0.5 * rng.normal(size=source.shape)
    result = metrics.map_metrics(source, mapped, labels)
    class_moves = np.stack([(mapped - source)[labels == c].reshape(-1, 3).mean(axis=0)
                            for c in range(3)])
    residual = metrics.map_metrics(source, mapped - class_moves[labels][:, None, :], labels)
    # The closed form (the optimal assignment ignores translations) against a fresh solve.
    assert result["residual_optimality"] == pytest.approx(residual["optimality"], rel=1e-9)
    assert result["uc_monge_gap"] == pytest.approx(residual["uc_monge_gap"], rel=1e-9)
    assert result["matching"] == residual["matching"]
    assert residual["translation_share"] == pytest.approx(0.0, abs=1e-12)
    assert result["residual_optimality"] < result["optimality"] - 0.05
    assert 0.5 < result["translation_share"] < 1


def test_map_metrics_of_a_pure_class_translation():
    rng = np.random.default_rng(4)
    source, labels = rng.normal(size=(8, 5, 2)), np.repeat([0, 1], 4)
    mapped = source + np.array([[3.0, 0], [0, -2]])[labels][:, None, :]
    result = metrics.map_metrics(source, mapped, labels)
    assert result["optimality"] == pytest.approx(1.0)
    assert result["translation_share"] == pytest.approx(1.0)
    assert np.isnan(result["residual_optimality"])
