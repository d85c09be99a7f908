import numpy as np
import pandas as pd
import pytest

from otcompanion import prose, stats


def test_shared_phrases():
    assert prose.share_of(np.int64(3), 8) == "3 of 8"
    assert prose.setup_values({"2 classes": 1.0, "3 classes": 0.9781}) == (
        "1.000 (2 classes), 0.978 (3 classes)")
    assert prose.setup_at_level("3 classes", 2) == "3 classes, level 2"


def test_blocks_reading_tells_a_difference_of_at_least_001():
    assert prose.blocks_accuracies({"2 block(s)": 1.0, "1 block(s)": 0.95}) == (
        "2 block(s) 1.000, 1 block(s) 0.950")
    assert prose.blocks_reading({"2 block(s)": 1.0, "1 block(s)": 0.995}) == (
        "the second block adds nothing measurable on this setup")
    assert prose.blocks_reading({"2 block(s)": 0.9, "1 block(s)": 0.95}) == (
        "the 1 block(s) model is more accurate here")


@pytest.mark.parametrize("matching, start", [(0.99, "still sends"), (0.98, "no longer sends")])
def test_third_feature_reading(matching, start):
    assert prose.third_feature_reading(matching).startswith(start)


@pytest.mark.parametrize("highest, start", [(0.49, "no optimizer"), (0.5, "the paths stay"),
                                            (0.9, "some settings"), (np.nan, "some settings")])
def test_ablation_overall_follows_the_claim_two_thresholds(highest, start):
    assert prose.ablation_overall(highest).startswith(start)


def test_ablation_reading_and_settings():
    assert prose.ablation_reading(True).startswith("straighter")
    assert prose.ablation_reading(False).startswith("not distinguishable")
    assert prose.optimizer_setting("adam", "0.01") == "adam at learning rate 0.01"
    assert prose.beats_translations(True) == "above"
    assert prose.beats_translations(False) == "not above"
    assert prose.pair_classes(0, 1) == "0 and 1"


def test_word_list_writes_lists_as_prose():
    assert prose.word_list([]) == ""
    assert prose.word_list([3]) == "3"
    assert prose.word_list([3, 4]) == "3 and 4"
    assert prose.word_list(["a", "b", "c"]) == "a, b and c"


def test_rank_correlation_without_groups_says_why():
    assert prose.rank_correlation(pd.Series([], dtype=float)) == "n/a (no group varies in both)"
    values = pd.Series([0.1, 0.3, 0.2])
    assert prose.rank_correlation(values) == stats.interval_text(values, digits=2)


def test_findings_evidence():
    assert prose.grid_setup(["2 classes", "3 classes"], [1, 2]) == (
        "2 classes and 3 classes; levels 1 and 2")
    assert prose.grid_setup(["3 classes"], [2]) == "3 classes; level 2"
    assert prose.final_map_evidence("0.99 [0.98, 1.00]", 4, 0.98, "1.0", "0.9", "0.4") == (
        "optimality 0.99 [0.98, 1.00] over 4 runs (lowest setup lower bound 0.9800, threshold "
        "0.99); matching 1.0; the same class moves with a random residual 0.9; optimality of "
        "what is not a class translation 0.4")
    assert prose.trajectory_evidence("0.4", "0.3", 4, "80") == (
        "straightness 0.4, W2 path efficiency 0.3 over 4 runs (thresholds on the setups' upper "
        "bounds: below 0.5 supported, below 0.9 partly); 80 % of the path after the validation "
        "plateau")


def test_biomedical_phrases():
    assert prose.data_source("", "target", "measurements") == (
        "scikit-learn breast-cancer table, layout 'measurements'")
    assert prose.data_source("a.csv", "y", "measurements") == "CSV file a.csv (target column 'y')"
    assert prose.fold_count(2, 5) == "2 \u00d7 5" and prose.fold_count(1, 5) == "5"
    assert prose.standing_reading(0.01, 0.02, "MLP").endswith("a lead over every other model")
    assert prose.standing_reading(-0.02, -0.01, "MLP").endswith("so it trails the MLP")
    assert prose.standing_reading(-0.01, 0.01, "MLP").endswith("do not rank the two")
    assert prose.layout_scores({"a": 0.91, "b": 0.9}) == (
        "0.910 with the a layout and 0.900 with the b layout")


def test_standing_finding_states_rank_difference_and_time():
    text = prose.standing_finding("OT classifier", 3, 6, 0.9512, "SVM", "\u22120.010 [\u22120.030, 0.010]",
                                  "the interval contains 0", 1.234, 12.4)
    assert text == ("The OT classifier ranks 3 of 6 by mean balanced accuracy (0.951); minus the "
                    "SVM's, fold by fold: \u22120.010 [\u22120.030, 0.010], the interval contains 0. "
                    "Median fit time 1.23 s, 12 times the fastest baseline's.")
