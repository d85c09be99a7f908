"""Bootstrap intervals, interval tables and paired differences."""

import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from otcompanion import stats


def test_interval_contains_the_mean_and_is_clipped_to_the_bounds():
    values = np.array([0.8, 1.0, 1.0, 0.9, 1.0, 1.0, 0.7, 1.0])
    mean, low, high, n = stats.bootstrap_interval(values)
    assert n == 8 and mean == pytest.approx(values.mean())
    assert low <= mean <= high and high > 1.0  # the t interval knows no bounds
    _, low, high, _ = stats.bootstrap_interval(values, bounds=(0, 1))
    assert 0 <= low <= mean <= high == 1.0


def test_degenerate_inputs():
    assert stats.bootstrap_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0, 3)
    assert stats.bootstrap_interval([5.0]) == (5.0, 5.0, 5.0, 1)
    mean, low, high, n = stats.bootstrap_interval([np.nan, np.nan])
    assert n == 0 and np.isnan(mean) and np.isnan(low)
    assert stats.bootstrap_interval([1.0, np.nan, 3.0])[3] == 2


@pytest.mark.parametrize("n", [5, 20, 100])
def test_equal_values_at_a_bound_give_a_one_sided_bound_from_the_number_of_runs(n):
    # All n runs at the ceiling: the share of runs there is at least 0.05 ** (1 / n) (exact
    # Clopper-Pearson bound; about 1 - 3 / n, the rule of three), the others could be at 0.
    mean, low, high, runs = stats.bootstrap_interval(np.ones(n), bounds=(0, 1))
    assert (mean, high, runs) == (1.0, 1.0, n)
    assert low == pytest.approx(0.05 ** (1 / n))
    assert 1 - 3 / n - 0.02 < low < 1 - 3 / n + 0.02 or n < 20
    assert stats.bootstrap_interval(np.zeros(n), bounds=(0, 1))[1:3] == (0.0, pytest.approx(
        1 - 0.05 ** (1 / n)))
    low, high = stats.constant_bound(0.5, n, bounds=(0, 1))
    assert low == pytest.approx(0.5 - 0.5 * (1 - 0.05 ** (1 / n))) and high == 1 - low
    assert stats.constant_bound(3.0, n, bounds=(0, np.inf)) == (pytest.approx(
        3.0 * 0.05 ** (1 / n)), 3.0)


def test_the_method_is_t_for_small_or_symmetric_samples_and_bca_for_skewed_ones():
    rng = np.random.default_rng(0)
    assert stats.interval_method(rng.normal(size=20)) == "t"
    assert stats.interval_method(rng.exponential(size=5) ** 3) == "t"  # too few for BCa
    piled = np.r_[np.ones(14), rng.beta(8, 2, 6)]
    assert stats.interval_method(piled) == "BCa"
    mean, low, high, _ = stats.bootstrap_interval(piled, bounds=(0, 1))
    assert low < mean <= high <= 1.0


def test_interval_is_reproducible_and_seeded():
    values = np.r_[np.ones(14), np.random.default_rng(1).beta(8, 2, 6)]  # skewed: BCa
    assert stats.bootstrap_interval(values, seed=3) == stats.bootstrap_interval(values, seed=3)
    assert stats.bootstrap_interval(values, seed=3) != stats.bootstrap_interval(values, seed=4)


def _coverage(draw, truth, replications=1000, bounds=None):
    rng = np.random.default_rng(12345)
    covered = 0
    for replication in range(replications):
        _, low, high, _ = stats.bootstrap_interval(draw(rng), seed=replication, bounds=bounds,
                                                   n_resamples=2000)
        covered += low <= truth <= high
    return covered / replications


@pytest.mark.parametrize("name, draw, truth, bounds, least", [
    ("normal, n = 20", lambda rng: rng.normal(size=20), 0.0, None, 0.93),
    ("normal, n = 5", lambda rng: rng.normal(size=5), 0.0, None, 0.90),
    # 70 % of the runs exactly at the ceiling 1, the others Beta(8, 2): mean 0.7 + 0.3 * 0.8.
    ("ceiling mixture, n = 20", lambda rng: np.where(rng.random(20) < 0.7, 1.0,
                                                     rng.beta(8, 2, 20)), 0.94, (0, 1), 0.90),
])
def test_intervals_cover_at_least_their_target_level(name, draw, truth, bounds, least):
    assert _coverage(draw, truth, bounds=bounds) >= least, name


def test_bad_bounds():
    for bounds in ((1, 0), (0,), "ab", (0, np.nan)):
        with pytest.raises(ValueError, match="bounds must"):
            stats.bootstrap_interval([0.1, 0.2], bounds=bounds)


def test_bounds_of_names_the_books_bounded_quantities():
    assert stats.bounds_of("optimality") == (0.0, 1.0)
    assert stats.bounds_of("recall_2") == (0.0, 1.0)
    assert stats.bounds_of("accuracy, 2 classes") == (0.0, 1.0)
    assert stats.bounds_of("fit_seconds") == (0.0, np.inf)
    assert stats.bounds_of("monge_gap") is None and stats.bounds_of(None) is None


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


# ----------------------------------------------------------------------------------------------
# Interval text: the chapters' own helpers (copied as they were) are the reference
# ----------------------------------------------------------------------------------------------

VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.04999, 0.05, 0.125, 2.5, 123.456, -1e-7, 1e6, np.nan,
          np.inf, np.float64(0.3), np.float32(0.7)]
TRIPLES = [(a, b, c) for a in VALUES for b in VALUES[::3] for c in VALUES[1::3]] + [
    (v, v, v) for v in VALUES]


NUMBER = re.compile(r"([+-]?)(\d+(?:\.\d*)?|inf|nan)")


def _printed(text):
    """Python's formatting of numbers in ``text`` as the book prints them: a true minus, no
    sign on a number that rounds to zero, "n/a" for NaN and "∞" for infinity."""
    def number(match):
        sign, body = match.groups()
        if body == "nan":
            return "n/a"
        body = "∞" if body == "inf" else body
        if body.strip("0.") == "":
            return body
        return {"-": stats.MINUS, "+": "+", "": ""}[sign] + body

    return NUMBER.sub(number, text)


def _old_stats_format(mean, low, high, n, places):
    """``otcompanion.stats._format`` before it became :func:`stats.format_interval`."""
    if n == 0:
        return "n/a"
    if n == 1:
        return f"{mean:.{places}f}"
    return f"{mean:.{places}f} [{low:.{places}f}, {high:.{places}f}]"


def _chapter_03_interval_text(row, places=1):
    """notebooks/03_mlp_pretraining.py ``interval_text``."""
    return f"{row['difference']:+.{places}f} [{row['low']:+.{places}f}, {row['high']:+.{places}f}]"


def _chapter_04_interval(mean, low, high, digits=3, unit=""):
    """notebooks/04_dummy_gaussian.py ``interval``."""
    if np.isnan(mean):
        return "n/a"
    if low == high:
        return f"{mean:.{digits}f}{unit}"
    return f"{mean:.{digits}f}{unit} [{low:.{digits}f}, {high:.{digits}f}]"


@pytest.mark.parametrize("digits", [0, 1, 2, 3, 4])
def test_format_interval_writes_what_the_old_helpers_wrote(digits):
    for mean, low, high in TRIPLES:
        for n in (0, 1, 2, 20):
            assert stats.format_interval(mean, low, high, digits, n=n) == _printed(
                _old_stats_format(mean, low, high, n, digits))
        row = {"difference": mean, "low": low, "high": high}
        assert stats.format_interval(mean, low, high, digits, signed=True, collapse=False) \
            == _printed(_chapter_03_interval_text(row, digits))
        for unit in ("", " s", "x"):
            assert stats.format_interval(mean, low, high, digits, unit=unit) \
                == _printed(_chapter_04_interval(mean, low, high, digits, unit))


def test_significant_digits_are_shared_by_an_interval_and_never_need_an_exponent():
    def g(mean, low, high):
        return stats.format_interval(mean, low, high, 3, signed=True, notation="g",
                                     collapse=False)

    assert g(0.0341, 0.0123, 0.259) == "+0.034 [+0.012, +0.259]"
    assert g(-0.067, -0.172, 0.038) == "−0.067 [−0.172, +0.038]"
    assert g(101659.1845, 100000.0, 103000.0) == "+101659 [+100000, +103000]"
    assert g(0.0, 0.0, 0.0) == "0.00 [0.00, 0.00]"
    assert stats.format_value(-0.000123, 3, notation="g") == "−0.000123"
    assert stats.format_value(1e6, 2, notation="g") == "1000000"
    assert stats.format_value(99.6, 3, notation="g") == "99.6"
    for value in (-123.456, -0.5, 0.04999, 2.5, 1e-7):
        text = stats.format_value(value, 3, notation="g")
        digits = text.lstrip(stats.MINUS).replace(".", "").lstrip("0")
        assert len(digits) == 3 and "e" not in text, text
        assert float(text.replace(stats.MINUS, "-")) == pytest.approx(value, rel=5e-3)


def test_interval_text_and_table_keep_their_strings():
    rng = np.random.default_rng(3)
    for values in ([], [0.5], [np.nan, 2.0], [1.0, 1.0, 1.0], rng.normal(size=12),
                   -rng.uniform(size=7), [0.0, 0.0, -0.0]):
        for digits in (0, 2, 3, 4):
            assert stats.interval_text(values, digits=digits) == _printed(_old_stats_format(
                *stats.bootstrap_interval(values), digits))
    frame = pd.DataFrame({"g": [1, 1, 1, 2], "x": [0.1, -0.3, np.nan, 7.0]})
    table = stats.interval_table(frame, ["g"], ["x"], digits={"x": 2})
    assert table["x"].tolist() == [
        _printed(_old_stats_format(*stats.bootstrap_interval([0.1, -0.3]), 2)), "7.00"]


def test_format_value_and_interval_check_their_arguments():
    with pytest.raises(ValueError, match="notation"):
        stats.format_value(1.0, notation="e")
    with pytest.raises(ValueError, match="digits"):
        stats.format_interval(1.0, 0.0, 2.0, digits=-1)
    with pytest.raises(TypeError, match="n must be an integer"):
        stats.format_interval(1.0, 0.0, 2.0, n=1.5)


OT, TRANSFORMER = "OT classifier", "Transformer"


def _chapter_04_speed_up(frame, by, column, seed=0):
    """notebooks/04_dummy_gaussian.py ``speed_up``."""
    wide = frame.pivot_table(index=[*by, "repetition"], columns="model", values=column,
                             dropna=False).reindex(columns=[TRANSFORMER, OT])
    ratio = np.log(wide[TRANSFORMER] / wide[OT]).dropna()
    rows = []
    for keys, group in ratio.groupby(level=by):
        keys = keys if isinstance(keys, tuple) else (keys,)
        mean, low, high, n = stats.bootstrap_interval(group, seed=seed)
        rows.append({**dict(zip(by, keys)), "pairs": n, "speed_up": np.exp(mean),
                     "low": np.exp(low), "high": np.exp(high)})
    return pd.DataFrame(rows, columns=[*by, "pairs", "speed_up", "low", "high"])


def _chapter_04_difference_table(differences, digits=3):
    """notebooks/04_dummy_gaussian.py ``difference_table``."""
    table = differences.copy()
    table["OT − Transformer [95 % CI]"] = [_printed(_chapter_04_interval(*values, digits=digits))
                                           for values in
                                           table[["difference", "low", "high"]].to_numpy()]
    return table.drop(columns=["difference", "low", "high"]).rename(
        columns={"mean_first": "OT mean", "mean_second": "Transformer mean"}).round(digits)


def _comparison_runs(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for setup in ("2 classes", "3 classes"):
        for level in (1, 2):
            for repetition in range(6):
                for model in (TRANSFORMER, OT):
                    seconds = rng.uniform(0.5, 3.0) * (4.0 if model == TRANSFORMER else 1.0)
                    accuracy = rng.choice([0.8, 0.9, 1.0])
                    rows.append(dict(setup=setup, level=level, repetition=repetition,
                                     model=model, fit_seconds=seconds, accuracy=accuracy))
    frame = pd.DataFrame(rows)
    # A model that never reaches its target in one group, a missing pair in another.
    frame["seconds_to_target"] = frame["fit_seconds"].where(
        ~((frame["model"] == OT) & (frame["level"] == 2) & (frame["setup"] == "2 classes")))
    frame.loc[(frame["repetition"] == 0) & (frame["level"] == 1), "seconds_to_target"] = np.nan
    return frame


@pytest.mark.parametrize("seed", [0, 1])
def test_speed_up_and_difference_table_give_what_chapter_04_gave(seed):
    frame = _comparison_runs(seed)
    for by in (["setup", "level"], ["setup"]):
        for column in ("fit_seconds", "seconds_to_target"):
            expected = _chapter_04_speed_up(frame, by, column, seed=seed)
            got = stats.speed_up(frame, by, column, TRANSFORMER, OT, seed=seed)
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
    differences = stats.paired_differences(frame, ["setup", "level"], ["repetition"], "model",
                                           OT, TRANSFORMER, ["accuracy", "fit_seconds"])
    for digits in (1, 3):
        pd.testing.assert_frame_equal(
            stats.difference_table(differences, digits, label="OT − Transformer [95 % CI]",
                                   names=("OT", "Transformer")),
            _chapter_04_difference_table(differences, digits), check_exact=True)
    with pytest.raises(ValueError, match=r"columns \['time'\] are not in the frame"):
        stats.speed_up(frame, ["setup"], "time", TRANSFORMER, OT)


def test_check_columns_names_the_argument():
    frame = pd.DataFrame({"a": [1]})
    stats.check_columns(frame, ["a"])
    with pytest.raises(ValueError, match=r"columns \['b'\] are not in the histories; it has "
                                         r"\['a'\]"):
        stats.check_columns(frame, ["a", "b"], "the histories")


def test_format_interval_writes_mean_and_interval_or_what_there_is():
    assert stats.format_interval(0.91234, 0.8, 0.95) == "0.912 [0.800, 0.950]"
    assert stats.format_interval(2.0, 1.5, 2.5, digits=1) == "2.0 [1.5, 2.5]"
    assert stats.format_interval(1.0, 1.0, 1.0) == "1.000"
    assert stats.format_interval(3.0, 3.0, 3.0, digits=1, unit=" s") == "3.0 s"
    assert stats.format_interval(np.nan, np.nan, np.nan) == "n/a"


def test_format_difference_is_signed_and_always_writes_the_interval():
    def signed(difference, low, high, digits=1, notation="f"):
        return stats.format_interval(difference, low, high, digits, signed=True,
                                     notation=notation, collapse=False)

    assert signed(-1.25, -2.0, -0.5) == "−1.2 [−2.0, −0.5]"
    assert signed(0.0, 0.0, 0.0, 3) == "0.000 [0.000, 0.000]"
    assert signed(0.01234, -0.1, 0.2, 3, "g") == "+0.012 [−0.100, +0.200]"
    row = pd.Series({"difference": 2.0, "low": 1.0, "high": 3.0})
    assert stats.format_difference(row) == "+2.0 [+1.0, +3.0]"
    assert stats.format_difference(row, 3) == "+2.000 [+1.000, +3.000]"
    row = pd.Series({"difference": 0.01234, "low": -0.1, "high": 0.2})
    assert stats.format_difference(row, 3, notation="g") == signed(0.01234, -0.1, 0.2, 3, "g")
    # As a row-wise apply, the way chapter 03 writes its table.
    frame = pd.DataFrame({"difference": [-1.25, 0.0], "low": [-2.0, 0.0], "high": [-0.5, 0.0]})
    assert frame.apply(stats.format_difference, axis=1, digits=3).tolist() == [
        "−1.250 [−2.000, −0.500]", "0.000 [0.000, 0.000]"]


def _two_setups():
    """Two models, two setups, four repetitions; the Transformer twice as slow in setup a."""
    rows = []
    for setup, ratio in (("a", 2.0), ("b", 0.5)):
        for r in range(4):
            seconds = 1.0 + r
            rows.append({"setup": setup, "repetition": r, "model": OT, "fit_seconds": seconds,
                         "accuracy": 0.9})
            rows.append({"setup": setup, "repetition": r, "model": TRANSFORMER,
                         "fit_seconds": ratio * seconds, "accuracy": 0.9 + 0.01 * r})
    return pd.DataFrame(rows)


def test_speed_up_is_the_geometric_mean_ratio_per_group():
    speed = stats.speed_up(_two_setups(), ["setup"], "fit_seconds", TRANSFORMER, OT)
    assert list(speed.columns) == ["setup", "pairs", "speed_up", "low", "high"]
    assert speed["pairs"].tolist() == [4, 4]
    np.testing.assert_allclose(speed[["speed_up", "low", "high"]].to_numpy(),
                               [[2, 2, 2], [0.5, 0.5, 0.5]])


def test_speed_up_leaves_out_pairs_without_a_time():
    frame = _two_setups()
    frame.loc[(frame["model"] == OT) & (frame["setup"] == "b"), "fit_seconds"] = np.nan
    speed = stats.speed_up(frame, ["setup"], "fit_seconds", TRANSFORMER, OT)
    assert speed["setup"].tolist() == ["a"]


def test_with_speed_up_adds_the_text_column_and_na_for_a_group_without_pairs():
    frame = _two_setups()
    speed = stats.speed_up(frame, ["setup"], "fit_seconds", TRANSFORMER, OT)
    table = stats.with_speed_up(pd.DataFrame({"setup": ["a", "b"], "x": [1, 2]}),
                                speed.iloc[:1], ["setup"])
    assert list(table.columns) == ["setup", "x", "speed-up [95 % CI]"]
    assert table["speed-up [95 % CI]"].tolist() == ["2.0", "n/a"]


def test_difference_table_renames_and_rounds():
    differences = pd.DataFrame([{"quantity": "x", "pairs": 3, "mean_first": 0.12345,
                                 "mean_second": 0.2, "difference": -0.07655, "low": -0.1,
                                 "high": -0.05, "verdict": "first lower"}])
    table = stats.difference_table(differences, label="a − b [95 % CI]",
                                   names={"mean_first": "a", "mean_second": "b"})
    assert table.to_dict("records") == [{"quantity": "x", "pairs": 3, "a": 0.123, "b": 0.2,
                                         "verdict": "first lower",
                                         "a − b [95 % CI]": "\u22120.077 [\u22120.100, \u22120.050]"}]
    # A pair of names is the "<name> mean" case of the same renaming.
    pd.testing.assert_frame_equal(
        stats.difference_table(differences, names=("a", "b")),
        stats.difference_table(differences, names={"mean_first": "a mean",
                                                   "mean_second": "b mean"}))


def test_paired_difference_is_the_one_row_of_paired_differences():
    frame = pd.DataFrame({"H": [1, 1, 4, 4], "repetition": [0, 1, 0, 1],
                          "loss": [1.0, 2.0, 0.5, 1.0]})
    row = stats.paired_difference(frame, "loss", 4, 1, "H")
    assert row["difference"] == -0.75 and row["pairs"] == 2


def test_split_halves_split_every_frame_by_the_same_repetitions():
    runs = pd.DataFrame({"repetition": [0, 1, 2, 3, 4] * 2, "x": range(10)})
    same_runs = pd.DataFrame({"repetition": [4, 3, 2, 1, 0], "y": range(5)})
    fewer = pd.DataFrame({"repetition": [0, 1, 0, 1], "z": range(4)})  # its own two halves
    (first, first_same, first_fewer), (second, second_same, second_fewer) = stats.split_halves(
        [runs, same_runs, fewer])
    assert set(first["repetition"]) == {0, 1} == set(first_same["repetition"])
    assert set(second["repetition"]) == {2, 3, 4} == set(second_same["repetition"])
    assert set(first_fewer["repetition"]) == {0} and set(second_fewer["repetition"]) == {1}
    assert len(first) + len(second) == len(runs)
    assert stats.split_half_verdicts(lambda a, b: f"{len(a)}, {len(b)}", runs, same_runs) == [
        "4, 2", "6, 3"]
    with pytest.raises(ValueError, match="at least two values of 'repetition'"):
        stats.split_halves([runs[runs["repetition"] == 0]])
    with pytest.raises(ValueError, match=r"columns \['repetition'\] are not in"):
        stats.split_halves([runs.drop(columns="repetition")])


def test_holm_levels_follow_the_step_down_procedure():
    # alpha 0.05, m = 4: p 0.01 <= 0.0125 rejects; 0.03 > 0.05/3 stops: the rest keep 1 - 0.05/3.
    np.testing.assert_allclose(stats.holm_levels([0.01, 0.04, 0.03, 0.5]),
                               [1 - 0.05 / 4, 1 - 0.05 / 3, 1 - 0.05 / 3, 1 - 0.05 / 3])
    np.testing.assert_allclose(stats.holm_levels([0.001, 0.2, 0.002]),
                               [1 - 0.05 / 3, 0.95, 1 - 0.05 / 2])
    assert stats.holm_levels([0.3]).tolist() == [0.95]


def test_paired_p_value_is_the_one_sample_t_test():
    values = np.random.default_rng(4).normal(0.3, 1, size=12)
    assert stats.paired_p_value(values) == pytest.approx(scipy.stats.ttest_1samp(values, 0).pvalue)
    assert stats.paired_p_value([0.0, 0.0, np.nan]) == 1.0
    assert stats.paired_p_value([0.2, 0.2]) == 0.0 and np.isnan(stats.paired_p_value([1.0]))


def test_holm_paired_differences_widen_the_family_and_keep_the_simultaneous_level():
    rng = np.random.default_rng(5)
    rows = [{"repetition": r, "setting": name, "y": base + shift + rng.normal(0, 0.05)}
            for r, base in enumerate(rng.normal(size=10))
            for name, shift in (("thesis", 0.0), ("a", 0.5), ("b", 0.0), ("c", -0.4))]
    frame = pd.DataFrame(rows)
    table = stats.holm_paired_differences(frame, ["repetition"], "setting", "thesis",
                                          ["a", "b", "c"], "y")
    assert table["compared"].tolist() == ["a", "b", "c"]
    assert table["verdict"].tolist() == ["first higher", "no difference detected", "first lower"]
    assert (table["confidence"] >= 0.95).all() and table["confidence"].max() == 1 - 0.05 / 3
    plain = stats.paired_differences(frame, [], ["repetition"], "setting", "a", "thesis", ["y"])
    assert table.loc[0, "high"] - table.loc[0, "low"] > plain.loc[0, "high"] - plain.loc[0, "low"]
    with pytest.raises(ValueError, match=r"values \['d'\] are not in column 'setting'"):
        stats.holm_paired_differences(frame, ["repetition"], "setting", "thesis", ["d"], "y")


def test_interval_table_keeps_intervals_within_a_budget_it_is_given():
    frame = pd.DataFrame({"g": [1] * 6, "best_epoch": [10, 200, 200, 15, 200, 190],
                          "roc_auc": [0.99, 1.0, 1.0, 0.97, 1.0, 1.0]})
    free = stats.interval_table(frame, ["g"], ["best_epoch"], digits=0)
    capped = stats.interval_table(frame, ["g"], ["best_epoch", "roc_auc"], digits=0,
                                  bounds={"best_epoch": (0, 200)})
    high = float(free["best_epoch"][0].split(", ")[1].rstrip("]"))
    assert high > 200  # the bootstrap's interval passes the budget without it
    assert capped["best_epoch"][0].endswith(", 200]")
    assert float(capped["roc_auc"][0].split(", ")[1].rstrip("]")) <= 1
    with pytest.raises(ValueError, match="not one of the columns"):
        stats.interval_table(frame, ["g"], ["roc_auc"], bounds={"best_epoch": (0, 200)})
    with pytest.raises(ValueError, match="low < high"):
        stats.interval_table(frame, ["g"], ["best_epoch"], bounds={"best_epoch": (5, 1)})


def test_interval_frame_takes_the_same_bounds_as_interval_table():
    frame = pd.DataFrame({"g": [1] * 6, "best_epoch": [10, 200, 200, 15, 200, 190]})
    capped = stats.interval_frame(frame, ["g"], ["best_epoch"], bounds={"best_epoch": (0, 200)})
    assert capped["high"].iloc[0] == 200
    assert stats.interval_frame(frame, ["g"], ["best_epoch"])["high"].iloc[0] > 200
