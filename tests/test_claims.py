"""The claims ledger (findings published by chapters, collected from executed notebooks) and the
rules that turn intervals into verdict words."""

import nbformat
import numpy as np
import pandas as pd
import pytest

from otcompanion import claims, experiments, pretrain, stats


def _notebook_with(path, findings):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("claims.publish(...)", metadata={"tags": ["remove-cell"]})
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        claims.MIME: findings, "text/plain": "findings"})]
    notebook.cells = [nbformat.v4.new_markdown_cell("# A chapter"), cell]
    nbformat.write(notebook, path)
    return path


def test_collect_and_write_the_ledger(tmp_path):
    first = claims.finding("trajectory", "supported", "straightness 0.21 [0.18, 0.24], 20 runs",
                           setup="2 classes, level 1")
    second = claims.finding("final map", "partly supported", "optimality 0.93 [0.90, 0.95]")
    a = _notebook_with(tmp_path / "02_ot_metrics.ipynb", [first, second])
    b = _notebook_with(tmp_path / "01_attention_tracing.ipynb",
                       [claims.finding("final map", "supported", "one run")])
    frame = claims.collect([a, b])
    assert list(frame["claim"]) == ["final map", "final map", "trajectory"]
    assert list(frame["chapter"]) == ["01_attention_tracing", "02_ot_metrics", "02_ot_metrics"]
    text = claims.ledger_markdown(frame)
    assert "- **supported** (2 classes, level 1; {doc}`chapters/02_ot_metrics`): straightness" \
        in text
    assert text.index("## Claim 1: the final map") < text.index("## Claim 2: the trajectory")
    assert "## Claim 3: pretraining" in text
    assert "No chapter of this build tested this claim." in text


def test_publish_displays_the_findings(capsys):
    pytest.importorskip("IPython")
    claims.publish([claims.finding("multi-head", "inconclusive", "gap 0.01 [-0.02, 0.03]")])
    assert "1 finding(s) for the claims ledger" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, error, message", [
    (dict(claim="claim 9"), ValueError, "claim must be one of"),
    (dict(verdict="proven"), ValueError, "verdict must be one of"),
    (dict(evidence=" "), ValueError, "evidence must be a non-empty string"),
    (dict(setup=3), TypeError, "setup must be a string"),
])
def test_bad_findings_are_refused(arguments, error, message):
    options = dict(claim="final map", verdict="supported", evidence="x", setup="all")
    options.update(arguments)
    with pytest.raises(error, match=message):
        claims.finding(**options)


# ----------------------------------------------------------------------------------------------
# The verdict rules
# ----------------------------------------------------------------------------------------------

def test_paired_verdict_words():
    assert claims.paired_verdict(0.1, 0.3) == "first higher"
    assert claims.paired_verdict(-0.3, -0.1) == "first lower"
    assert claims.paired_verdict(-0.1, 0.3) == "no difference detected"
    assert claims.paired_verdict(0.0, 0.0, n=5) == "identical in every pair"
    assert claims.paired_verdict(0.1, 0.3, n=1) == "too few pairs"
    assert claims.paired_verdict(np.nan, np.nan, n=4) == "too few pairs"
    words = {claims.paired_verdict(low, high, n) for low, high, n in
             [(0.1, 0.3, 2), (-0.3, -0.1, 2), (0, 0, 2), (-1, 1, 2), (0, 1, 1)]}
    assert words == set(claims.PAIRED_VERDICTS)


@pytest.mark.parametrize("outcomes, verdict", [
    (["support", "support"], "supported"),
    (["support", "undecided"], "partly supported"),
    (["support", "contradict"], "partly supported"),
    (["undecided", "contradict"], "not supported"),
    (["undecided", "undecided"], "inconclusive"),
])
def test_combined_verdict(outcomes, verdict):
    assert claims.combined_verdict(outcomes) == verdict
    assert verdict in claims.VERDICTS


@pytest.mark.parametrize("outcomes", [[], ["supports"]])
def test_combined_verdict_rejects_unknown_outcomes(outcomes):
    with pytest.raises(ValueError, match="outcomes"):
        claims.combined_verdict(outcomes)


@pytest.mark.parametrize("low, high, threshold, claim, outcome", [
    (-0.02, 0.01, -0.05, "above", "support"),
    (-0.08, -0.06, -0.05, "above", "contradict"),
    (-0.08, 0.0, -0.05, "above", "undecided"),
    (0.0, 0.0, -0.05, "above", "support"),
    (-2.0, -1.0, 0.0, "below", "support"),
    (0.5, 1.0, 0.0, "below", "contradict"),
    (-0.5, 1.0, 0.0, "below", "undecided"),
    (np.nan, np.nan, 0.0, "below", "undecided"),
])
def test_interval_outcome(low, high, threshold, claim, outcome):
    assert claims.interval_outcome(low, high, threshold, claim) == outcome


@pytest.mark.parametrize("arguments, error, message", [
    ((0.0, 1.0, 0.0, "more"), ValueError, "claim"),
    ((1.0, 0.0, 0.0, "above"), ValueError, "above high"),
    (("a", 1.0, 0.0, "above"), TypeError, "low must be a real number"),
    ((0.0, 1.0, np.nan, "above"), ValueError, "threshold"),
])
def test_interval_outcome_rejects_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        claims.interval_outcome(*arguments)


def _differences(speed, accuracy):
    """Paired differences of two cells: (low, high) of the speed and accuracy intervals."""
    rows = []
    for setup, (s, a) in enumerate(zip(speed, accuracy)):
        rows.append(dict(setup=setup, condition="c", quantity="epochs_to_target_capped",
                         low=s[0], high=s[1]))
        rows.append(dict(setup=setup, condition="c", quantity="val_accuracy", low=a[0],
                         high=a[1]))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("speed, accuracy, expected", [
    ([(-3, -1), (1, 2)], [(0, 0), (0, 0)], "supported"),          # faster here, slower there
    ([(-3, -1), (-1, 1)], [(0, 0), (-0.3, -0.1)], "supported"),   # faster; less accurate there
    ([(-3, -1), (-1, 1)], [(0, 0), (-0.1, 0.1)], "partly supported"),
    ([(-1, 1), (1, 2)], [(0, 0), (0, 0)], "not supported"),
    ([(-3, -1), (-1, 1)], [(-0.2, -0.1), (0, 0)], "not supported"),  # faster but less accurate
    ([(-1, 1), (-2, 0)], [(-0.1, 0.1), (0, 0.2)], "inconclusive"),
])
def test_pretraining_verdict_words_follow_the_intervals(speed, accuracy, expected):
    result = claims.pretraining_verdict(_differences(speed, accuracy))
    assert result["verdict"] == expected and result["verdict"] in claims.VERDICTS
    if expected == "supported":
        assert result["faster"] == [(0, "c")] and result["harmed"] == [(1, "c")]


def test_pretraining_verdict_rejects_bad_input():
    table = _differences([(-1, 1)], [(0, 0)])
    with pytest.raises(TypeError, match="DataFrame"):
        claims.pretraining_verdict(table.to_dict())
    with pytest.raises(ValueError, match="columns \\['level'\\]"):
        claims.pretraining_verdict(table, cell=("level",))
    with pytest.raises(ValueError, match="no rows of quantity 'best_epoch'"):
        claims.pretraining_verdict(table, speed="best_epoch")


def test_the_old_import_paths_still_work():
    """The verdict rules moved here; their old homes keep the names (same objects)."""
    assert stats.verdict is claims.paired_verdict
    assert experiments.interval_outcome is claims.interval_outcome
    assert experiments.combined_verdict is claims.combined_verdict
    assert pretrain.pretraining_verdict is claims.pretraining_verdict


# The chapters' own verdict rules, copied as they were, are the reference of the claims module's.

def _chapter_02_claim_two(upper):
    return "supported" if upper < 0.5 else ("partly supported" if upper < 0.9 else "not supported")


def _chapter_06_multi_head(lazier, margin, test_error, versus_pooling):
    improvements = {"closer to the linearized model": lazier == "first lower",
                    "NTK margin at initialization": margin == "first higher",
                    "test error": test_error == "first lower"}
    worse = lazier == "first higher" or margin == "first lower" or test_error == "first higher"
    shown_better = [name for name, better in improvements.items() if better]
    return ("not supported" if worse
            else "supported" if all(improvements.values()) and versus_pooling == "first lower"
            else "partly supported" if shown_better else "inconclusive")


BOUNDS = [0.0, 0.5, 0.98, 0.989999, 0.99, 0.995, 1.0, np.nan, -0.2, 0.49, 0.8999, 0.9]


def test_claim_two_verdict_follows_chapter_02():
    for bound in BOUNDS:
        assert claims.trajectory_verdict(bound) == _chapter_02_claim_two(bound)


def test_multi_head_verdict_follows_chapter_06():
    words = claims.PAIRED_VERDICTS
    for lazier in words:
        for margin in words:
            for error in words:
                for pooling in words:
                    expected = _chapter_06_multi_head(lazier, margin, error, pooling)
                    assert claims.multi_head_verdict(lazier, margin, error, pooling) == expected
                    assert expected in claims.VERDICTS
    with pytest.raises(ValueError, match="paired verdict"):
        claims.multi_head_verdict("lower", "first higher", "first lower", "first lower")


def test_interval_outcomes_of_a_table():
    table = pd.DataFrame({"low": [-0.02, -0.08, np.nan], "high": [0.01, -0.06, np.nan]})
    assert claims.interval_outcomes(table, -0.05, "above") == ["support", "contradict",
                                                               "undecided"]
    with pytest.raises(ValueError, match=r"columns \['high'\] are not in differences"):
        claims.interval_outcomes(table.drop(columns="high"), 0.0, "below")
    differences = pd.DataFrame({"low": [-0.02, -0.2, -0.1], "high": [0.01, -0.1, 0.0]})
    assert claims.interval_outcomes(differences, -0.05, "above") == [
        "support", "contradict", "undecided"]


@pytest.mark.parametrize("intervals, beats, verdict", [
    ([(0.991, 1.0), (0.995, 0.999)], True, "supported"),
    ([(0.991, 1.0), (0.995, 0.999)], False, "partly supported"),
    ([(0.991, 1.0), (0.9894, 0.9970)], True, "partly supported"),
    # An interval across the threshold is not evidence against the claim: inconclusive.
    ([(0.9894, 0.9970), (0.985, 0.995)], True, "inconclusive"),
    ([(0.9894, 0.9970), (0.95, 0.98)], True, "not supported"),
    ([(float("nan"), float("nan"))], True, "inconclusive"),
])
def test_final_map_verdict(intervals, beats, verdict):
    outcomes = [claims.interval_outcome(low, high, claims.OPTIMALITY_THRESHOLD, "above")
                for low, high in intervals]
    assert claims.final_map_verdict(outcomes, beats) == verdict


@pytest.mark.parametrize("upper, verdict", [
    (0.49, "supported"), (0.5, "partly supported"), (0.89, "partly supported"),
    (0.9, "not supported"), (float("nan"), "not supported"),
])
def test_trajectory_verdict(upper, verdict):
    assert claims.trajectory_verdict(upper) == verdict


# Chapter rules (03, 04, 06)

def test_gain_is_narrow_when_the_interval_ends_close_to_0():
    assert claims.gain_is_narrow(-2.0, -0.4)
    assert not claims.gain_is_narrow(-2.0, -0.6)


def test_check_accuracy_margin():
    assert claims.check_accuracy_margin(0.05) == 0.05
    for bad in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"accuracy_margin must be in \(0, 1\)"):
            claims.check_accuracy_margin(bad)


def test_geometry_verdict():
    assert claims.geometry_verdict(["undecided", "support"]) == "supported"
    assert claims.geometry_verdict(["undecided", "undecided"]) == "inconclusive"
    assert claims.geometry_verdict(["undecided", "contradict"]) == "not supported"


def test_heads_lazier():
    lower = {"verdict": "first lower"}
    open_ = {"verdict": "no difference detected"}
    assert claims.heads_lazier(lower, lower)
    assert not claims.heads_lazier(lower, open_)


def test_setups_at_the_ceiling_are_uninformative_and_never_support():
    table = pd.DataFrame({"mean_first": [1.0, 1.0, 0.9], "mean_second": [1.0, 0.99, 0.95],
                          "low": [0.0, -0.02, -0.2], "high": [0.0, 0.0, -0.1]})
    assert claims.interval_outcomes(table, -0.05, "above") == ["support", "support", "contradict"]
    found = claims.interval_outcomes(table, -0.05, "above", ceiling=1.0)
    assert found == ["uninformative", "support", "contradict"]
    assert claims.combined_verdict(found) == "partly supported"
    assert claims.combined_verdict(["uninformative", "support"]) == "supported"
    assert claims.combined_verdict(["uninformative", "uninformative"]) == "uninformative"
    assert claims.combined_verdict(["uninformative", "undecided"]) == "inconclusive"
    with pytest.raises(ValueError, match=r"columns \['mean_second'\] are not in differences"):
        claims.interval_outcomes(table.drop(columns="mean_second"), 0.0, "above", ceiling=1.0)


def test_the_rule_constants_are_frozen():
    # Fixed before the results were read; changing one changes what the book concludes, so it
    # must be a deliberate edit of this test too.
    assert (claims.OPTIMALITY_THRESHOLD, claims.TRAJECTORY_SUPPORTED_BELOW,
            claims.TRAJECTORY_PARTLY_BELOW, claims.ACCURACY_MARGIN, claims.SAME_ACCURACY,
            claims.IDENTITY_MATCHING, claims.MIN_PAIRS, claims.COST_THRESHOLD,
            claims.SCALING_THRESHOLD, claims.GEOMETRY_THRESHOLD, claims.LATE_BEST_EPOCH_SHARE,
            claims.NARROW_GAIN_SHARE) == (0.99, 0.5, 0.9, 0.05, 0.01, 0.99, 2, 0.0, 0.0, 0.0,
                                          0.9, 0.25)
    assert claims.VERDICTS == ("supported", "partly supported", "not supported",
                               "inconclusive", "uninformative")
    assert (stats.CONFIDENCE, stats.BCA_MIN_N, stats.BCA_MIN_SKEWNESS) == (0.95, 10, 1.0)


def test_the_ledger_nests_an_evidence_list_under_its_verdict():
    findings = pd.DataFrame([{"claim": "pretraining", "verdict": "inconclusive", "setup": "all",
                              "chapter": "03_mlp_pretraining",
                              "evidence": "Summary.\n- a: **faster with pretraining**"}])
    text = claims.ledger_markdown(findings)
    assert "- **inconclusive** (all; {doc}`chapters/03_mlp_pretraining`): Summary.\n  - a: " in text


def test_a_finding_carries_its_split_half_check_and_the_ledger_flags_unstable_ones():
    stable = claims.finding("final map", "supported", "x", halves=("supported", "supported"))
    assert stable["halves"] == ["supported", "supported"]
    assert claims.stability(stable["halves"]) == "stable"
    assert claims.stability(None) == claims.stability(float("nan")) == ""
    with pytest.raises(ValueError, match="halves must be a pair"):
        claims.finding("final map", "supported", "x", halves="supported")
    with pytest.raises(ValueError, match="halves"):
        claims.finding("final map", "supported", "x", halves=("supported", "maybe"))
    findings = pd.DataFrame([
        {"chapter": "02_ot_metrics", "claim": "final map", "setup": "s", "verdict": "supported",
         "evidence": "e.", "halves": ["supported", "inconclusive"]},
        {"chapter": "02_ot_metrics", "claim": "trajectory", "setup": "s",
         "verdict": "supported", "evidence": "e.", "halves": None}])
    text = claims.ledger_markdown(findings)
    assert ("- **supported** (*unstable*) (s; {doc}`chapters/02_ot_metrics`): e. Split-half "
            "check: *supported* on the first half of the repetitions, *inconclusive* on the "
            "second (unstable).") in text
    assert "- **supported** (s; {doc}`chapters/02_ot_metrics`): e.\n" in text


def test_the_findings_table_has_a_line_per_finding_and_per_untested_claim():
    findings = pd.DataFrame([
        {"chapter": "02_ot_metrics", "claim": "final map", "setup": "2 classes | 3 classes",
         "verdict": "supported", "evidence": "e.", "halves": ["supported", "inconclusive"],
         "key": "optimality 0.99 [0.98, 1.00]"},
        {"chapter": "04_dummy_gaussian", "claim": "ot classifier cost", "setup": "s",
         "verdict": "not supported", "evidence": "e.", "halves": None, "key": ""}])
    table = claims.findings_table(findings).splitlines()
    assert table[0] == ("| Claim | Verdict | Key number [95 % interval] | Rule | Measured on; "
                        "split halves | Chapter |")
    assert len(table) == 2 + len(claims.CLAIMS)
    assert table[2] == ("| Claim 1: the final map is nearly optimal | **supported** (*unstable*) "
                        f"| optimality 0.99 [0.98, 1.00] | {claims.RULES['final map']} | "
                        "2 classes / 3 classes; halves supported / inconclusive | "
                        "{doc}`chapters/02_ot_metrics` |")
    assert ("| Claim 2: the trajectory is inefficient | not tested in this build | | "
            f"{claims.RULES['trajectory']} | | |") in table
    assert "| **not supported** |  | " in claims.findings_table(findings)
    assert "s; no split-half check |" in claims.findings_table(findings)
    assert set(claims.TITLES) == set(claims.CLAIMS) == set(claims.RULES)
    with pytest.raises(TypeError, match="key must be a string"):
        claims.finding("final map", "supported", "x", key=0.99)


def test_budget_range_verdict_holds_only_where_every_budget_agrees():
    assert claims.budget_range_verdict({5: "supported", 10: "supported"}) == "supported"
    assert claims.budget_range_verdict({5: "supported", 10: "not supported"}) == \
        "partly supported"
    assert claims.budget_range_verdict({5: "partly supported", 10: "inconclusive"}) == \
        "partly supported"
    assert claims.budget_range_verdict({5: "not supported", 10: "inconclusive"}) == \
        "inconclusive"
    assert claims.budget_range_verdict({20: "not supported"}) == "not supported"
    with pytest.raises(ValueError, match="at least one"):
        claims.budget_range_verdict({})
    with pytest.raises(ValueError, match="unknown verdict"):
        claims.budget_range_verdict({5: "maybe"})


def test_findings_summary_lists_title_verdict_key_and_rule():
    items = [claims.finding("final map", "supported", "e", key="optimality 0.99 [0.98, 1.00]",
                            halves=("supported", "inconclusive")),
             claims.finding("trajectory", "not supported", "e")]
    text = claims.findings_summary(items).splitlines()
    assert text[0] == ("- **Claim 1: the final map is nearly optimal**: *supported* (unstable: its "
                       "two halves of the runs disagree); optimality 0.99 [0.98, 1.00] (rule: "
                       f"{claims.RULES['final map']}).")
    assert text[1].startswith("- **Claim 2: the trajectory is inefficient**: *not supported* (rule")
    assert claims.findings_summary([]) == "No finding."
