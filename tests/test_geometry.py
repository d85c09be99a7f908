import math

import numpy as np
import pytest

from otcompanion.geometry import dummy_means


def test_thesis_circle_is_sin_cos_with_class_zero_on_top():
    # The thesis code: c(radius*sin(i*fraq), radius*cos(i*fraq)), radius 3k.
    np.testing.assert_array_equal(dummy_means(2), [[0.0, 6.0], [0.0, -6.0]])
    np.testing.assert_allclose(dummy_means(3), [[0.0, 9.0], [9 * math.sqrt(3) / 2, -4.5],
                                                [-9 * math.sqrt(3) / 2, -4.5]], atol=1e-12)
    np.testing.assert_array_equal(dummy_means(2, dim=4), [[0, 6.0, 0, 0], [0, -6.0, 0, 0]])


@pytest.mark.parametrize("k", [2, 3, 5])
def test_circle_radius_angles_and_neighbour_distance(k):
    means = dummy_means(k, dim=4)
    np.testing.assert_array_equal(means[:, 2:], 0.0)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 3 * k)
    angles = np.arctan2(means[:, 0], means[:, 1]) % (2 * np.pi)  # clockwise from (0, r)
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(k) / k, atol=1e-12)
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    neighbour = 2 * 3 * k * math.sin(math.pi / k)
    assert distances[~np.eye(k, dtype=bool)].min() == pytest.approx(neighbour)


def test_cos_sin_circle_is_the_reflection_across_the_diagonal():
    for k in (2, 3, 4):
        np.testing.assert_allclose(dummy_means(k, "circle_cos_sin"), dummy_means(k)[:, ::-1],
                                   atol=1e-12)


def test_rotation_turns_the_thesis_circle_clockwise():
    np.testing.assert_allclose(dummy_means(4, radius=2.0, rotation=math.pi / 2),
                               [[2, 0], [0, -2], [-2, 0], [0, 2]], atol=1e-15)
    np.testing.assert_array_equal(dummy_means(2, rotation=math.pi), [[0.0, -6.0], [0.0, 6.0]])


def test_simplex_means_are_equidistant_and_match_the_cos_sin_circle_for_three():
    means = dummy_means(5, "simplex", radius=2.0, dim=4)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 2.0)
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(5, 1)]
    np.testing.assert_allclose(distances, 2.0 * np.sqrt(2 * 5 / 4))
    np.testing.assert_allclose(dummy_means(3, "simplex"), dummy_means(3, "circle_cos_sin"),
                               atol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_classes=2, dim=1), ValueError, "dim=1 is too small.*dim >= 2"),
    (dict(n_classes=4, geometry="simplex", dim=2), ValueError, "dim >= 3"),
    (dict(n_classes=3, geometry="simplex", rotation=0.1), ValueError, "rotation"),
    (dict(n_classes=1), ValueError, "n_classes"),
    (dict(n_classes=2.0), TypeError, "n_classes"),
    (dict(n_classes=3, radius=0.0), ValueError, "radius"),
    (dict(n_classes=3, radius="3"), TypeError, "radius"),
    (dict(n_classes=3, rotation=math.nan), ValueError, "rotation"),
    (dict(n_classes=3, geometry="square"), ValueError, "geometry must be one of"),
])
def test_bad_input_names_the_parameter(kwargs, error, match):
    with pytest.raises(error, match=match):
        dummy_means(**kwargs)


def test_aligned_means_are_the_thesis_simulation_means():
    assert np.array_equal(dummy_means(3, "aligned"), [[-5, 0], [5, 0], [0, 5]])
    assert np.array_equal(dummy_means(2, "aligned", radius=2, dim=3), [[-2, 0, 0], [2, 0, 0]])
    with pytest.raises(ValueError, match="2 or 3 classes"):
        dummy_means(4, "aligned")
    with pytest.raises(ValueError, match="rotation"):
        dummy_means(3, "aligned", rotation=0.5)
