"""Summary tables of chapters 03, 04 and 06 (otcompanion.tables): interval text, paired
differences and speed-ups, outcomes, traced-epoch ratio, verdicts at shorter budgets."""

import numpy as np
import pandas as pd
import pytest

from otcompanion import stats, tables
from otcompanion.tables import OT, TRANSFORMER


def test_format_interval_writes_mean_and_interval_or_what_there_is():
    assert tables.format_interval(0.91234, 0.8, 0.95) == "0.912 [0.800, 0.950]"
    assert tables.format_interval(2.0, 1.5, 2.5, digits=1) == "2.0 [1.5, 2.5]"
    assert tables.format_interval(1.0, 1.0, 1.0) == "1.000"
    assert tables.format_interval(3.0, 3.0, 3.0, digits=1, unit=" s") == "3.0 s"
    assert tables.format_interval(np.nan, np.nan, np.nan) == "n/a"


def test_format_difference_is_signed_and_always_writes_the_interval():
    assert tables.format_difference(-1.25, -2.0, -0.5) == "-1.2 [-2.0, -0.5]"
    assert tables.format_difference(0.0, 0.0, 0.0, "+.3f") == "+0.000 [+0.000, +0.000]"
    assert tables.format_difference(0.01234, -0.1, 0.2, "+.3g") == "+0.0123 [-0.1, +0.2]"
    row = pd.Series({"difference": 2.0, "low": 1.0, "high": 3.0})
    assert tables.row_difference(row) == "+2.0 [+1.0, +3.0]"
    assert tables.row_difference(row, 3) == "+2.000 [+1.000, +3.000]"


def _comparison():
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
    speed = tables.speed_up(_comparison(), ["setup"], "fit_seconds", TRANSFORMER, OT)
    assert list(speed.columns) == ["setup", "pairs", "speed_up", "low", "high"]
    assert speed["pairs"].tolist() == [4, 4]
    np.testing.assert_allclose(speed[["speed_up", "low", "high"]].to_numpy(),
                               [[2, 2, 2], [0.5, 0.5, 0.5]])


def test_speed_up_leaves_out_pairs_without_a_time():
    frame = _comparison()
    frame.loc[(frame["model"] == OT) & (frame["setup"] == "b"), "fit_seconds"] = np.nan
    speed = tables.speed_up(frame, ["setup"], "fit_seconds", TRANSFORMER, OT)
    assert speed["setup"].tolist() == ["a"]


def test_ot_minus_transformer_and_its_table():
    frame = _comparison()
    differences = tables.ot_minus_transformer(frame, ["setup"], ["accuracy"])
    expected = stats.paired_differences(frame, ["setup"], ["repetition"], "model", OT,
                                        TRANSFORMER, ["accuracy"])
    pd.testing.assert_frame_equal(differences, expected)
    speed = tables.speed_up(frame, ["setup"], "fit_seconds", TRANSFORMER, OT)
    table = tables.model_difference_table(differences, speed.iloc[:1], ["setup"])
    assert list(table.columns) == ["setup", "pairs", "OT mean", "Transformer mean", "verdict",
                                   "OT − Transformer [95 % CI]", "speed-up [95 % CI]"]
    assert table["speed-up [95 % CI]"].tolist() == ["2.0", "n/a"]
    assert table["OT − Transformer [95 % CI]"].iloc[0].startswith("-0.015 [")


def test_difference_table_renames_and_rounds():
    differences = pd.DataFrame([{"quantity": "x", "pairs": 3, "mean_first": 0.12345,
                                 "mean_second": 0.2, "difference": -0.07655, "low": -0.1,
                                 "high": -0.05, "verdict": "first lower"}])
    table = tables.difference_table(differences, "a − b", {"mean_first": "a", "mean_second": "b"})
    assert table.to_dict("records") == [{"quantity": "x", "pairs": 3, "a": 0.123, "b": 0.2,
                                         "verdict": "first lower",
                                         "a − b [95 % CI]": "-0.077 [-0.100, -0.050]"}]


def test_paired_difference_is_the_one_row_of_paired_differences():
    frame = pd.DataFrame({"H": [1, 1, 4, 4], "repetition": [0, 1, 0, 1],
                          "loss": [1.0, 2.0, 0.5, 1.0]})
    row = tables.paired_difference(frame, "loss", 4, 1, "H")
    assert row["difference"] == -0.75 and row["pairs"] == 2


def test_interval_outcomes_reads_every_row():
    differences = pd.DataFrame({"low": [-0.02, -0.2, -0.1], "high": [0.01, -0.1, 0.0]})
    assert tables.interval_outcomes(differences, -0.05, "above") == [
        "support", "contradict", "undecided"]


def test_traced_epoch_ratio():
    traced = pd.DataFrame({"n_classes": [3, 3], "repetition": [0, 1],
                           "fit_seconds": [4.0, 8.0], "epochs_run": [2, 4]})
    untraced = traced.assign(fit_seconds=[1.0, 2.0])
    ratio, low, _, n = tables.traced_epoch_ratio(traced, untraced)
    assert n == 2 and ratio == pytest.approx(4.0) and low == pytest.approx(4.0)
    assert tables.traced_epoch_ratio(traced, untraced.assign(repetition=[5, 6])) is None


def test_budget_verdicts_recompute_the_verdict_per_budget():
    histories = []
    for condition in ("unpretrained", "circle"):
        for repetition in range(3):
            for epoch in range(1, 5):
                accuracy = 1.0 if epoch >= (2 if condition == "circle" else 4) else 0.5
                histories.append({"n_classes": 2, "level": 1, "repetition": repetition,
                                  "condition": condition, "epoch": epoch,
                                  "val_loss": 1.0 / epoch, "val_instance_accuracy": accuracy})
    checks = tables.budget_verdicts(pd.DataFrame(histories), [3, 4], {2: "2 classes"},
                                    patience=2, target_accuracy=1.0)
    assert [check["budget"] for check in checks] == [3, 4]
    assert all(check["faster"] == [("2 classes", "circle")] for check in checks)
    assert {check["verdict"] for check in checks} == {"partly supported"}
