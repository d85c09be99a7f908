"""Bootstrap intervals, interval tables and paired differences."""

import numpy as np
import pandas as pd
import pytest

from otcompanion import stats


def test_interval_contains_the_mean_and_stays_in_the_data_range():
    values = np.array([0.8, 1.0, 1.0, 0.9, 1.0, 1.0, 0.7, 1.0])
    mean, low, high, n = stats.bootstrap_interval(values)
    assert n == 8 and mean == pytest.approx(values.mean())
    assert values.min() <= low <= mean <= high <= values.max() == 1.0


def test_degenerate_inputs():
    assert stats.bootstrap_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0, 3)
    assert stats.bootstrap_interval([5.0]) == (5.0, 5.0, 5.0, 1)
    mean, low, high, n = stats.bootstrap_interval([np.nan, np.nan])
    assert n == 0 and np.isnan(mean) and np.isnan(low)
    assert stats.bootstrap_interval([1.0, np.nan, 3.0])[3] == 2


def test_interval_is_reproducible_and_seeded():
    values = np.random.default_rng(1).normal(size=15)
    assert stats.bootstrap_interval(values, seed=3) == stats.bootstrap_interval(values, seed=3)
    assert stats.bootstrap_interval(values, seed=3) != stats.bootstrap_interval(values, seed=4)


def test_coverage_of_normal_means_is_close_to_95_percent():
    # 400 samples of 20 standard normal values: the percentile bootstrap covers the true mean
    # 0 in about 93 % of them (it is slightly narrow for small n); far from 95 % would be a bug.
    rng = np.random.default_rng(0)
    covered = [low <= 0 <= high for low, high in
               (stats.bootstrap_interval(rng.normal(size=20), n_resamples=1000, seed=i)[1:3]
                for i in range(400))]
    assert 0.88 <= np.mean(covered) <= 0.98


def test_interval_width_matches_the_normal_theory_for_large_samples():
    values = np.random.default_rng(2).normal(size=400)
    _, low, high, _ = stats.bootstrap_interval(values)
    expected = 2 * 1.96 * values.std(ddof=1) / np.sqrt(400)
    assert high - low == pytest.approx(expected, rel=0.1)


def test_interval_table():
    frame = pd.DataFrame({"group": ["a", "a", "b", "c", "c"], "x": [1.0, 3.0, 2.0, np.nan, 4.0]})
    table = stats.interval_table(frame, ["group"], ["x"], digits=2)
    assert list(table["runs"]) == [2, 1, 2]
    assert table.loc[0, "x"].startswith("2.00 [1.00, 3.00]"[:6])
    assert table.loc[1, "x"] == "2.00" and table.loc[2, "x"] == "4.00"
    with pytest.raises(ValueError, match=r"columns \['y'\] are not in the frame"):
        stats.interval_table(frame, ["group"], ["y"])


def test_paired_differences_pair_runs_and_word_the_verdict():
    rng = np.random.default_rng(0)
    rows = []
    for task in (2, 3):
        for repetition in range(20):
            base = rng.normal()
            shift = 1.0 if task == 2 else 0.0
            rows.append({"task": task, "repetition": repetition, "model": "A",
                         "score": base + shift + 0.1 * rng.normal(), "same": 1.0})
            rows.append({"task": task, "repetition": repetition, "model": "B",
                         "score": base + 0.1 * rng.normal(), "same": 1.0})
    rows.append({"task": 2, "repetition": 99, "model": "A", "score": 100.0, "same": 1.0})
    frame = pd.DataFrame(rows)
    result = stats.paired_differences(frame, ["task"], ["repetition"], "model", "A", "B",
                                      ["score", "same"])
    score = result[result["quantity"] == "score"].set_index("task")
    assert list(score["pairs"]) == [20, 20]  # the unpaired run is left out
    assert score.loc[2, "verdict"] == "first higher" and score.loc[2, "low"] > 0.5
    assert score.loc[3, "verdict"] == "no difference detected"
    same = result[result["quantity"] == "same"]
    assert set(same["verdict"]) == {"identical in every pair"}
    swapped = stats.paired_differences(frame, ["task"], ["repetition"], "model", "B", "A",
                                       ["score"]).set_index("task")
    assert swapped.loc[2, "verdict"] == "first lower"
    assert swapped.loc[2, "difference"] == pytest.approx(-score.loc[2, "difference"])


@pytest.mark.parametrize("arguments, message", [
    (dict(first="C"), r"first='C' is not a value of column 'model'"),
    (dict(columns=["nope"]), r"columns \['nope'\] are not in the frame"),
    (dict(pair_on=[]), "do not identify one run per condition"),
])
def test_paired_differences_reject_bad_input(arguments, message):
    frame = pd.DataFrame({"repetition": [0, 0, 1, 1], "model": ["A", "B"] * 2,
                          "score": [1.0, 2.0, 3.0, 4.0]})
    options = dict(by=[], pair_on=["repetition"], condition="model", first="A", second="B",
                   columns=["score"])
    options.update(arguments)
    with pytest.raises(ValueError, match=message):
        stats.paired_differences(frame, **options)


def test_verdict_words():
    assert stats.verdict(0.1, 0.3) == "first higher"
    assert stats.verdict(-0.3, -0.1) == "first lower"
    assert stats.verdict(-0.1, 0.3) == "no difference detected"
    assert stats.verdict(0.1, 0.3, n=1) == "too few pairs"


def test_bad_parameters():
    with pytest.raises(ValueError, match="confidence must be"):
        stats.bootstrap_interval([1.0, 2.0], confidence=1.5)
    with pytest.raises(TypeError, match="n_resamples must be an integer"):
        stats.bootstrap_interval([1.0, 2.0], n_resamples=1.5)


def test_interval_text():
    assert stats.interval_text([1.0, 1.0]) == "1.000 [1.000, 1.000]"
    assert stats.interval_text([0.5]) == "0.500"
    assert stats.interval_text([], digits=1) == "n/a"
    text = stats.interval_text([0.1, 0.2, 0.3, 0.4], digits=2)
    mean, low, high, _ = stats.bootstrap_interval([0.1, 0.2, 0.3, 0.4])
    assert text == f"{mean:.2f} [{low:.2f}, {high:.2f}]"
