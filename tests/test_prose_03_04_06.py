"""Sentences of chapters 03, 04 and 06 (otcompanion.prose): each built from the numbers passed
in, with the wording the chapters glue."""

import pandas as pd
import pytest

from otcompanion import claims, prose, stats


def _row(difference, low, high, verdict, **other):
    return pd.Series({"difference": difference, "low": low, "high": high, "verdict": verdict,
                      **other})


# Chapter 03

def test_cell_list_and_strong():
    assert prose.cell_list([("2 classes", "circle, one head")]) == \
        "2 classes with *circle, one head*"
    assert prose.cell_list([]) == "none"
    assert prose.cell_list([("2 classes", "a, b"), ("3 classes", "c")]) == \
        "2 classes with *a, b*; 3 classes with *c*"
    assert prose.strong("supported") == "**supported**"


def test_head_draw_reads_each_task():
    draw = pd.DataFrame([_row(-1.0, -2.0, -0.5, "first lower", setup="2 classes"),
                         _row(0.2, -0.1, 0.4, "no difference detected", setup="3 classes")])
    assert prose.head_draw(draw) == (
        "2 classes: \u22121.0 [\u22122.0, \u22120.5] epochs (sooner with the one head); "
        "3 classes: +0.2 [\u22120.1, +0.4] epochs (no difference detected).")


def test_pretraining_evidence_pairs_speed_and_accuracy_rows():
    speed = pd.DataFrame([_row(-1.0, -2.0, -0.5, "first lower", setup="2 classes",
                               condition="c", mean_first=3.0, mean_second=4.0, pairs=5)])
    accuracy = pd.DataFrame([_row(0.01, 0.0, 0.02, "x", setup="2 classes", condition="c")])
    text = prose.pretraining_evidence(speed, accuracy, 1.0, 20, 1)
    assert text == ("- 2 classes, *c*: **faster with pretraining**; epochs to a validation "
                    "accuracy of 1 (at most 20): "
                    "3.0 pretrained against 4.0 unpretrained, paired difference \u22121.0 [\u22122.0, \u22120.5]; validation accuracy "
                    "+0.010 [0.000, +0.020] (5 repetitions, each the mean of 1 level).")
    assert "mean of 4 levels" in prose.pretraining_evidence(speed, accuracy, 1.0, 20, 4)


def test_budget_sentence():
    faster = pd.DataFrame([{"setup": "2 classes", "condition": "c", "difference": -2.0,
                            "high": -0.1}])
    same = prose.budget_sentence({10: "supported", 20: "supported"}, "supported", faster)
    assert same == ("the verdict is *supported* at every budget tried (10 and 20 epochs). The "
                    "gain's interval ends 0.10 epochs below 0 (2 classes, *c*): close enough "
                    "that other data or another budget could move it to 0.")
    differ = prose.budget_sentence({10: "inconclusive", 20: "supported"}, "supported",
                                   faster.iloc[:0])
    assert differ == ("the verdict depends on the budget: *inconclusive* at 10 epochs; "
                      "*supported* at 20 epochs. It rests on intervals that end close to 0, and "
                      "is no firmer than that.")


def test_pretraining_summary_finding_and_setup():
    result = {"faster": [("2 classes", "c")], "slower": [], "less_accurate": []}
    assert prose.pretraining_summary(result, "- e") == (
        "Pretraining was faster in: 2 classes with *c*; slower in: none; less accurate in: "
        "none.\n\n- e")
    finding = prose.pretraining_finding(result, 20, 10, "the verdict is x.", "- e")
    assert finding.startswith("Paired differences pretrained minus unpretrained")
    assert "budget 20 epochs, patience 10. Faster: 2 classes with *c*; slower: none" in finding
    assert finding.endswith("shorter budgets, the verdict is x.\n- e")
    assert prose.pretraining_setup(["2 classes", "3 classes"], [1, 2], 20) == \
        "2 classes and 3 classes; levels 1 and 2; 20 repetitions"


# Chapter 04

def _differences():
    return pd.DataFrame([
        {"setup": "2 classes", "level": 1, "pairs": 20, "mean_first": 1.0, "mean_second": 1.0,
         "difference": 0.0, "low": 0.0, "high": 0.0, "verdict": "identical in every pair"},
        {"setup": "3 classes", "level": 1, "pairs": 18, "mean_first": 0.8, "mean_second": 0.9,
         "difference": -0.1, "low": -0.15, "high": -0.06, "verdict": "first lower"}])


def test_small_phrases():
    assert prose.runs_text(pd.Series([20, 20])) == "20 runs"
    assert prose.runs_text(pd.Series([18, 20])) == "18–20 runs"
    assert prose.group_name({"setup": "3 classes", "level": 2}, ["setup", "level"]) == \
        "3 classes, level 2"
    assert prose.levels_text([1]) == "level 1" and prose.levels_text([1, 2]) == "levels 1 and 2"
    assert prose.tasks_text({2: "2 classes", 3: "3 classes"}, [3, 2]) == "3 classes and 2 classes"


def test_accuracy_finding_and_worst_shortfall():
    finding, found = prose.accuracy_finding(_differences(), ["setup", "level"], 0.05, "here")
    # A setup where both models are perfect in every run is no support: uninformative.
    assert found == ["uninformative", "contradict"]
    assert finding["claim"] == "ot classifier accuracy" and finding["setup"] == "here"
    assert finding["verdict"] == "not supported"
    assert finding["evidence"] == (
        "Test instance accuracy of the OT classifier minus the Transformer's, paired over 18–20 "
        "runs per setup: both models at 1.000 in every run in 1 of 2 setups (uninformative: "
        "they cannot tell the models apart); among the others, the 95 % interval lies above "
        "−0.05 (at most 0.05 lower) in 0 of 1 setups and wholly below it in 1; lowest mean "
        "difference 3 classes, level 1: \u22120.100 [\u22120.150, \u22120.060].")
    only_ceiling = prose.accuracy_finding(_differences().iloc[:1], ["setup", "level"], 0.05,
                                          "here")[0]
    assert only_ceiling["verdict"] == "uninformative"
    rule = _differences().assign(variant=["T =  5, 45 train", "T = 20, 45 train"])
    assert prose.worst_shortfall(rule) == "\u22120.100 [\u22120.150, \u22120.060] (3 classes, T = 20, 45 train)"


def test_cost_finding_quotes_the_extreme_speed_ups():
    differences = _differences()
    speed = pd.DataFrame({"setup": ["2 classes", "3 classes"], "level": [1, 1],
                          "pairs": [20, 18], "speed_up": [3.0, 1.5], "low": [2.5, 1.2],
                          "high": [3.5, 1.9]})
    finding, found = prose.cost_finding(differences, speed, ["setup", "level"], "here", "Fit time")
    assert finding["claim"] == "ot classifier cost" and found == ["undecided", "support"]
    assert finding["evidence"].endswith(
        "speed-up (Transformer time / OT time, geometric mean with 95 % interval) from "
        "1.5 [1.2, 1.9] (3 classes, level 1) to 3.0 [2.5, 3.5] (2 classes, level 1).")
    _, _ = prose.cost_finding(differences, speed.iloc[:0], ["setup", "level"], "here", "Fit")
    evidence = prose.cost_evidence(differences, speed.iloc[:0], ["setup", "level"], "Fit",
                                   found)
    assert evidence.endswith("with 95 % interval) not defined (no pair).")


def test_scaling_and_geometry_sentences():
    exponents = pd.DataFrame([{"solver": "exact", "mean_first": 1.0, "mean_second": 1.2,
                               "difference": -0.2, "low": -0.3, "high": -0.1, "pairs": 5}])
    assert prose.scaling_per_solver(exponents) == \
        "exact: 1.00 vs 1.20, difference \u22120.20 [\u22120.30, \u22120.10] (5 pairs)"
    evidence = prose.scaling_evidence(exponents, [480, 960], ["support"])
    assert evidence.startswith(r"Exponent $b$ of fit time $t \approx a\,n^b$ over 2 training "
                               "sizes (480–960 "
                               "tokens)")
    assert evidence.endswith("Lower with standardized inputs in 1 of 1 solvers, higher in 0.")
    assert prose.scaling_setup(4, [480, 960]) == "3 classes, level 4; 4 solvers; 480–960 tokens"
    geometry = pd.DataFrame([{"setting": "radius: 1", "difference": -0.2, "low": -0.3,
                              "high": -0.1, "pairs": 20},
                             {"setting": "radius: 3", "difference": 0.0, "low": -0.1,
                              "high": 0.1, "pairs": 20}])
    found = ["support", "undecided"]
    assert prose.lowering_settings(geometry, found) == "radius: 1 (\u22120.200 [\u22120.300, \u22120.100])"
    assert prose.lowering_settings(geometry, ["undecided"] * 2) == "none"
    assert prose.geometry_evidence(geometry, found).endswith(
        "paired over 20 runs: 1 of 2 settings lower it with an interval below 0 (radius: 1 "
        "\u22120.200 [\u22120.300, \u22120.100]).")


# Chapter 06

def test_difference_reading_and_its_collections():
    lower = _row(-0.5, -0.75, -0.25, "first lower", pairs=5)
    unresolved = _row(0.1, -0.1, 0.3, "no difference detected", pairs=5)
    assert prose.difference_reading(lower, "higher", "lower") == (
        "lower: the difference is \u22120.500 (95 % confidence interval \u22120.750 to \u22120.250, 5 pairs)")
    assert prose.difference_reading(unresolved, "higher", "lower").startswith(
        "not told apart by these runs (no difference detected): the difference is +0.1")
    assert prose.size_gap({1: lower, 8: lower}, 200).startswith(
        "with 1 head it is smaller at n = 200: ")
    assert "; with 8 heads it is smaller at n = 200" in prose.size_gap({1: lower, 8: lower}, 200)
    assert prose.bridge_findings({"instance_accuracy": lower}, 20).startswith(
        "instance accuracy is lower with 20 heads: the difference is \u22120.5")
    assert prose.lazier_answer(True) == "Yes, in this model"
    assert prose.lazier_answer(False) == "Not shown by these runs"


def test_multi_head_finding_sentences():
    row = {**_row(-0.5, -0.75, -0.25, "first lower", pairs=5), "confidence": 0.995}
    family = pd.DataFrame([row], index=["test error"])
    evidence = prose.multi_head_evidence(32, 1, 5, family, ["test error"])
    assert evidence == (
        "32 against 1 heads, paired over 5 repetitions, intervals at Bonferroni-Holm levels "
        "for the chapter's 1 comparison: test error \u22120.500 [\u22120.750, \u22120.250] (at 99.5 %). This "
        "book's reconstruction of the model and data, not the paper's theorems.")
    claims.finding("multi-head", "supported", evidence)  # a valid finding
    assert prose.multi_head_setup(50, 200, "sqrt") == \
        r"tokenized mixture, $n$ = 50, 200 steps, $c_H = 1/\sqrt{H}$"
    assert prose.multi_head_setup(50, 200, "mean").endswith("$c_H = 1/H$")


def test_pooling_reading_and_evidence_follow_the_verdicts():
    lower = {"verdict": "first lower", "difference": -0.1, "low": -0.2, "high": -0.05,
             "pairs": 5}
    higher = {**lower, "verdict": "first higher", "difference": 0.1, "low": 0.05, "high": 0.2}
    unclear = {**lower, "verdict": "no difference detected", "low": -0.2, "high": 0.1}
    assert prose.pooling_reading(unclear, higher) == (
        "the error of multi-head attention is not told apart from that of mean pooling and "
        "above that of the oracle that reads the relevant tokens")
    assert prose.pooling_reading(lower, unclear).startswith(
        "the error of multi-head attention is below that of mean pooling and not told apart")


def test_deciding_interval_and_best_pretraining_cell():
    rows = pd.DataFrame({"setup": ["a", "b"], "level": [1, 2], "difference": [0.1, -0.2],
                         "low": [0.05, -0.3], "high": [0.2, -0.1]})
    assert prose.deciding_interval(rows, ["setup", "level"], "above") == \
        stats.format_interval(-0.2, -0.3, -0.1, 3) + " (b, level 2)"
    assert prose.deciding_interval(rows, ["setup"], "below").endswith("(a)")
    assert prose.deciding_interval(rows, ["setup"], "below", every=False).endswith("(b)")
    assert prose.deciding_interval(rows, ["setup"], "above", every=False).endswith("(a)")
    assert prose.deciding_interval(rows.iloc[:0], ["setup"], "above") == "n/a (no groups)"
    with pytest.raises(ValueError, match="claim"):
        prose.deciding_interval(rows, ["setup"], "sideways")
    speed = rows.assign(condition=["c", "d"], pairs=[5, 5], verdict="x")
    assert prose.best_pretraining_cell(speed, 20).endswith("(b, d)")
