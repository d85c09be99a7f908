"""The claims ledger: what each chapter's runs say about each claim of the two works.

A chapter states its findings with :func:`publish`, in a cell tagged ``remove-cell`` (the web
page shows the findings in the chapter's prose; the executed notebook keeps them as an output
of type :data:`MIME`). When the book is built, :func:`collect` reads these outputs from every
executed chapter and :func:`ledger_markdown` writes the ledger page, so every verdict in it was
computed by the build that shows it.

Each finding names a claim of :data:`CLAIMS`, a verdict (one of :data:`VERDICTS`), and the
evidence: the quantity, its value with a 95 % interval (:mod:`otcompanion.stats`) and the
number of runs, worded no more strongly than the interval allows.

This module is also the one home of the rules that turn intervals into words, so that a reader
checks every verdict of the book in one place:

- :func:`paired_verdict`: a paired difference ``first - second`` and its interval, in words
  (the ``verdict`` column of :func:`otcompanion.stats.paired_differences`);
- :func:`interval_outcome`: one setup's interval against a claim's threshold (support,
  contradict, undecided), and :func:`combined_verdict`: the outcomes of several setups as one
  verdict;
- :func:`final_map_verdict`, :func:`trajectory_verdict`, :func:`pretraining_verdict` and
  :func:`multi_head_verdict`: the verdicts on thesis claims 1, 2 and 3 and on the multi-head
  claim (Deora et al., 2024), each from the intervals its chapter computes;
- the constants of those rules (:data:`MIN_PAIRS`, :data:`OPTIMALITY_THRESHOLD`,
  :data:`TRAJECTORY_SUPPORTED_BELOW`, :data:`ACCURACY_MARGIN`), each with its reason.

The intervals themselves, and their text, come from :mod:`otcompanion.stats`, which imports
this module (for :func:`paired_verdict`); this module imports nothing of the package but the
argument checks.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. 2025. arXiv:2512.09530 (claims 1 to 4).
- P. Deora, R. Ghaderi, H. Taheri, C. Thrampoulidis. *On the Optimization and Generalization of
  Multi-head Attention*. TMLR, 2024. arXiv:2310.12680 (the multi-head claim).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ._validation import check_choice, check_columns, check_real

#: Output type of the findings in an executed chapter.
MIME = "application/vnd.otcompanion.claims+json"

#: The claims the book tests, in the order of the ledger.
CLAIMS = {
    "final map": "The map the trained Transformer applies to the tokens approximates the optimal "
                 "transport coupling between the start and end clouds (thesis claim 1).",
    "trajectory": "The training trajectory of the tokens is inefficient: far longer than the "
                  "direct transport (thesis claim 2).",
    "pretraining": "Pretraining the head on synthetic clouds helps convergence only partly and "
                   "is fragile (thesis claim 3).",
    "ot classifier accuracy": "The dummy-Gaussian OT classifier is comparable in accuracy to the "
                              "Transformer (thesis claim 4).",
    "ot classifier cost": "The OT classifier is cheaper to fit than the Transformer (thesis "
                          "claim 4).",
    "ot classifier scaling": "The OT classifier scales more efficiently under standardized "
                             "inputs (thesis claim 4).",
    "ot classifier geometry": "The OT classifier's accuracy depends on a careful choice of the "
                              "dummy geometry (thesis claim 4).",
    "multi-head": "Gradient descent on single-layer multi-head attention converges and "
                  "generalizes, with guarantees that improve with the number of heads "
                  "(Deora et al., 2024).",
}

#: The title of each claim of :data:`CLAIMS`, as headings and tables write it.
TITLES = {"final map": "Claim 1: the final map is nearly optimal",
          "trajectory": "Claim 2: the trajectory is inefficient",
          "pretraining": "Claim 3: pretraining helps, fragilely",
          "ot classifier accuracy": "Claim 4: OT classifier, comparable accuracy",
          "ot classifier cost": "Claim 4: OT classifier, lower cost",
          "ot classifier scaling": "Claim 4: OT classifier, better scaling when standardized",
          "ot classifier geometry": "Claim 4: OT classifier, depends on the dummy geometry",
          "multi-head": "Multi-head attention: guarantees improve with the heads"}

#: The verdict words of a finding.
VERDICTS = ("supported", "partly supported", "not supported", "inconclusive", "uninformative")

#: The words of :func:`paired_verdict`, from the strongest statement to "cannot tell".
PAIRED_VERDICTS = ("first higher", "first lower", "identical in every pair",
                   "no difference detected", "too few pairs")

#: Fewest pairs that can give an interval: one difference has no spread to resample, so a
#: single pair can only be reported, never judged (:func:`otcompanion.stats.bootstrap_interval`
#: returns ``low == high == mean`` for it).
MIN_PAIRS = 2

#: The outcomes of one setup's interval against a claim's threshold (:func:`interval_outcome`).
OUTCOMES = ("support", "contradict", "undecided", "uninformative")

#: The sides a one-sided claim can take against its threshold (:func:`interval_outcome`).
SIDES = ("above", "below")

#: Lowest value of the lower end of the trained map's optimality interval that chapter 02
#: reads as "approximates the optimal coupling" (thesis claim 1): the optimality is the OT cost
#: over the map's cost, 1 for an optimal map, so 0.99 allows at most 1 % extra transport cost.
OPTIMALITY_THRESHOLD = 0.99

#: Claim 2 ("the trajectory is inefficient") in chapter 02: the largest upper end, over the
#: setups, of the straightness and W2 path-efficiency intervals. Below 0.5 the tokens travel
#: more than twice the direct transport in every setup (supported); below 0.9 at least about
#: 10 % more (partly supported); from 0.9 up the paths are close to straight (not supported).
TRAJECTORY_SUPPORTED_BELOW, TRAJECTORY_PARTLY_BELOW = 0.5, 0.9

#: "Comparable accuracy" in chapter 04 (thesis claim 4): the OT classifier's test accuracy at
#: most this far below the Transformer's, i.e. the interval of the paired difference lies above
#: ``-ACCURACY_MARGIN``. "Comparable" needs a margin to be testable with an interval; five
#: points of accuracy is the default of the chapter's ``accuracy_margin`` parameter, which a
#: reader can tighten or loosen.
ACCURACY_MARGIN = 0.05


#: Chapter 01's reading of one run with one and with two encoder blocks: test accuracies within
#: this distance (under one instance in a hundred) count as the same.
SAME_ACCURACY = 0.01

#: Chapter 01's reading of the run with a third feature: an OT matching of at least this share
#: (every token but one in a hundred matched to its own image) is still the identity coupling,
#: the same threshold as :data:`OPTIMALITY_THRESHOLD`'s 1 %.
IDENTITY_MATCHING = 0.99

def finding(claim, verdict, evidence, setup="all setups", halves=None, key=""):
    """One finding of a chapter about ``claim``.

    Parameters
    ----------
    claim : str
        A key of :data:`CLAIMS`.
    verdict : str
        One of :data:`VERDICTS`.
    evidence : str
        The computed quantity with its interval and number of runs, in Markdown.
    setup : str, default "all setups"
        Where it was measured (e.g. "3 classes, level 2").
    halves : pair of str, optional
        The verdict recomputed, by the same rule, on the first and on the second half of the
        repetitions (:func:`otcompanion.stats.split_halves`): a split-half check of how stable
        the verdict is. The ledger calls a finding whose halves disagree *unstable*.
    key : str, default ""
        The finding's key number with its 95 % interval, for the findings table (e.g.
        ``"optimality 0.995 [0.993, 0.997]"``).

    Returns
    -------
    dict
    """
    check_choice(claim, "claim", tuple(CLAIMS))
    check_choice(verdict, "verdict", VERDICTS)
    if not isinstance(evidence, str) or not evidence.strip():
        raise ValueError("evidence must be a non-empty string stating the computed numbers.")
    if not isinstance(setup, str):
        raise TypeError(f"setup must be a string, got {setup!r}.")
    if not isinstance(key, str):
        raise TypeError(f"key must be a string, got {key!r}.")
    result = {"claim": claim, "verdict": verdict, "evidence": evidence, "setup": setup,
              "key": key}
    if halves is not None:
        if isinstance(halves, str) or len(halves) != 2:
            raise ValueError(f"halves must be a pair of verdicts, got {halves!r}.")
        result["halves"] = [check_choice(word, "halves", VERDICTS) for word in halves]
    return result


def stability(halves):
    """``"stable"`` when both halves give the same verdict, ``"unstable"`` when they do not,
    ``""`` without a split-half check (``halves`` None or NaN)."""
    if not isinstance(halves, (list, tuple)):
        return ""
    return "stable" if halves[0] == halves[1] else "unstable"


def publish(findings):
    """Display ``findings`` (from :func:`finding`) as an output that :func:`collect` reads.

    Call it in a cell tagged ``remove-cell``: nothing shows on the web page.
    """
    from IPython.display import display  # noqa: PLC0415 (IPython: only in a chapter's kernel)

    findings = list(findings)
    for item in findings:
        finding(**item)  # validates every entry
    display({MIME: findings, "text/plain": f"{len(findings)} finding(s) for the claims ledger"},
            raw=True)


def collect(notebooks):
    """The findings published by executed chapters, as a table.

    Parameters
    ----------
    notebooks : iterable of path
        Executed chapter notebooks; the chapter is the file's stem.

    Returns
    -------
    pandas.DataFrame
        Columns ``chapter``, ``claim``, ``setup``, ``verdict``, ``evidence``, in the order of
        :data:`CLAIMS`, then of the chapters.
    """
    rows = []
    for path in notebooks:
        path = Path(path)
        # An executed notebook is JSON (nbformat 4): read as such, so that the claims need no
        # notebook library outside the book's build.
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook.get("cells", []):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if MIME in data:
                    payload = data[MIME]
                    if isinstance(payload, str):
                        payload = json.loads(payload)
                    rows += [{"chapter": path.stem, **item} for item in payload]
    frame = pd.DataFrame(rows, columns=["chapter", "claim", "setup", "verdict", "evidence",
                                        "halves", "key"])
    frame["key"] = frame["key"].fillna("")
    order = {claim: i for i, claim in enumerate(CLAIMS)}
    frame["_order"] = frame["claim"].map(order)
    return frame.sort_values(["_order", "chapter"], kind="stable").drop(columns="_order")


def _halves_text(halves):
    """The split-half check as a sentence of the ledger (nothing without one)."""
    if not stability(halves):
        return ""
    return (f" Split-half check: *{halves[0]}* on the first half of the repetitions, "
            f"*{halves[1]}* on the second ({stability(halves)}).")


def findings_summary(findings):
    """A chapter's findings as Markdown bullets, one per finding: the claim's title, the
    verdict (with *unstable* when its split halves disagree), its key number and its rule
    (:data:`RULES`). The chapter shows them in its "What this chapter finds" box
    (:func:`otcompanion.chapter.publish`).

    Parameters
    ----------
    findings : list of dict
        From :func:`finding`.
    """
    lines = []
    for item in findings:
        word = f"*{item['verdict']}*"
        if stability(item.get("halves")) == "unstable":
            word += " (unstable: its two halves of the runs disagree)"
        key = f"; {item['key']}" if item.get("key") else ""
        lines.append(f"- **{TITLES[item['claim']]}**: {word}{key} (rule: "
                     f"{RULES[item['claim']]}).")
    return "\n".join(lines) if lines else "No finding."


def findings_table(findings):
    """The findings as one Markdown table, a line per finding: the claim's title, the verdict
    (with *unstable* when its split halves disagree), its key number with the 95 % interval,
    the rule that turned the intervals into the verdict (:data:`RULES`), where it was measured
    with its split-half check, and the chapter; a claim no chapter tested gets a line saying
    so. The ledger page and the landing page open with it."""
    lines = ["| Claim | Verdict | Key number [95 % interval] | Rule | Measured on; split halves "
             "| Chapter |",
             "|---|---|---|---|---|---|"]
    for claim in CLAIMS:
        rows = findings[findings["claim"] == claim]
        if rows.empty:
            lines.append(f"| {TITLES[claim]} | not tested in this build | | {RULES[claim]} | | |")
        for row in rows.itertuples():
            halves = getattr(row, "halves", None)
            word = f"**{row.verdict}**" + (" (*unstable*)" if stability(halves) == "unstable"
                                           else "")
            split = (f"halves {halves[0]} / {halves[1]}" if stability(halves)
                     else "no split-half check")
            where = str(row.setup).replace("|", "/")
            key = str(getattr(row, "key", "") or "").replace("|", "/")
            lines.append(f"| {TITLES[claim]} | {word} | {key} | {RULES[claim]} | {where}; "
                         f"{split} | {{doc}}`chapters/{row.chapter}` |")
    return "\n".join(lines) + "\n"


def ledger_markdown(findings):
    """The ledger page's body: one section per claim, one bullet per finding.

    A claim without findings says so (no chapter tested it in this build).
    """
    lines = []
    for claim, statement in CLAIMS.items():
        lines += [f"## {TITLES[claim]}", "", f"*{statement}*", ""]
        rows = findings[findings["claim"] == claim]
        if rows.empty:
            lines += ["No chapter of this build tested this claim.", ""]
            continue
        for row in rows.itertuples():
            # Lines of the evidence after its first (e.g. bullets per setup) nest under it.
            evidence = row.evidence.replace("\n", "\n  ")
            halves = getattr(row, "halves", None)
            word = f"**{row.verdict}**"
            if stability(halves) == "unstable":
                word += " (*unstable*)"
            lines.append(f"- {word} ({row.setup}; {{doc}}`chapters/{row.chapter}`): "
                         f"{evidence}{_halves_text(halves)}")
        lines.append("")
    return "\n".join(lines)


def paired_verdict(low, high, n=MIN_PAIRS):
    """Words for a paired difference ``first - second`` with interval ``[low, high]``.

    ``"first higher"`` when the whole interval is above 0, ``"first lower"`` when it is below,
    ``"no difference detected"`` when it contains 0 (the data do not tell the two apart at this
    sample size: not evidence that they are equal), ``"identical in every pair"`` when all
    differences are 0, and ``"too few pairs"`` for fewer than :data:`MIN_PAIRS` pairs.
    Also available as :func:`otcompanion.stats.verdict`, the ``verdict`` column of
    :func:`otcompanion.stats.paired_differences`.
    """
    if n < MIN_PAIRS or np.isnan(low) or np.isnan(high):
        return "too few pairs"
    if low == high == 0:
        return "identical in every pair"
    if low > 0:
        return "first higher"
    if high < 0:
        return "first lower"
    return "no difference detected"


def interval_outcome(low, high, threshold, claim):
    """Whether an interval supports a one-sided claim about a quantity.

    Parameters
    ----------
    low, high : float
        The 95 % interval of the quantity (e.g. a paired difference); NaN when it could not be
        formed.
    threshold : float
    claim : {"above", "below"}
        The claim says the quantity is above (or below) ``threshold``.

    Returns
    -------
    str
        ``"support"`` when the whole interval is on the claim's side of ``threshold``,
        ``"contradict"`` when it is wholly on the other side, ``"undecided"`` when it contains
        ``threshold`` or is NaN.

    Examples
    --------
    The OT classifier's accuracy minus the Transformer's, claimed to be above -0.05 (at most
    five points lower):

    >>> interval_outcome(-0.02, 0.01, -0.05, "above")
    'support'
    """
    claim = check_choice(claim, "claim", SIDES)
    threshold = check_real(threshold, "threshold")
    for value, name in ((low, "low"), (high, "high")):
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value,
                                                                                      bool):
            raise TypeError(f"{name} must be a real number or NaN, got {value!r}.")
    if np.isnan(low) or np.isnan(high):
        return "undecided"
    if low > high:
        raise ValueError(f"low={low} is above high={high}.")
    above, below = low > threshold, high < threshold
    if claim == "below":
        above, below = below, above
    return "support" if above else "contradict" if below else "undecided"


def combined_verdict(outcomes):
    """A claim's verdict (:data:`VERDICTS`) from the outcomes of its tests.

    Each outcome is ``"support"``, ``"contradict"`` or ``"undecided"`` (the interval of one
    setup on one side of the claim's threshold, on the other, or across it), or
    ``"uninformative"`` (a setup where both compared methods sit at the ceiling in every run,
    :func:`interval_outcomes`): such a setup cannot tell the methods apart and counts for
    nothing.

    Returns
    -------
    str
        Over the informative tests: ``"supported"`` when every one supports the claim;
        ``"partly supported"`` when some do and others do not; ``"not supported"`` when none
        does and at least one contradicts it; ``"inconclusive"`` when every one is undecided.
        ``"uninformative"`` when no test is informative.
    """
    outcomes = list(outcomes)
    bad = [value for value in outcomes if value not in OUTCOMES]
    if not outcomes or bad:
        raise ValueError(f"outcomes must be a non-empty list of {OUTCOMES}, got {outcomes!r}.")
    outcomes = [value for value in outcomes if value != "uninformative"]
    if not outcomes:
        return "uninformative"
    if all(value == "support" for value in outcomes):
        return "supported"
    if "support" in outcomes:
        return "partly supported"
    return "not supported" if "contradict" in outcomes else "inconclusive"


def budget_range_verdict(verdicts):
    """One verdict for a range of budgets (e.g. epoch budgets of chapter 03's claim 3).

    A verdict chosen at one budget can flip at another; a claim read over a range of budgets
    holds only where it holds at every one of them.

    Parameters
    ----------
    verdicts : dict
        Budget -> verdict (:data:`VERDICTS`) at that budget.

    Returns
    -------
    str
        The common verdict when every budget gives the same one. Otherwise ``"partly
        supported"`` when at least one budget gives ``"supported"`` or ``"partly supported"``
        (the claim holds at some budgets of the range, not at all), and ``"inconclusive"``
        when none does (the budgets disagree on what they cannot support).
    """
    words = list(dict(verdicts).values())
    if not words:
        raise ValueError("verdicts must hold at least one budget's verdict.")
    unknown = sorted(set(words) - set(VERDICTS))
    if unknown:
        raise ValueError(f"unknown verdict(s) {unknown}; allowed: {list(VERDICTS)}.")
    if len(set(words)) == 1:
        return words[0]
    if {"supported", "partly supported"} & set(words):
        return "partly supported"
    return "inconclusive"


def pretraining_verdict(differences, *, speed="epochs_to_target_capped",
                        accuracy="val_accuracy", cell=("setup", "condition")):
    """A verdict on "pretraining helps convergence only partly and is fragile" (thesis claim 3).

    ``differences`` holds paired differences *pretrained minus unpretrained* with 95 %
    intervals (:func:`otcompanion.stats.paired_differences`), one row per cell (e.g. task and
    pretraining condition) and quantity. A cell is

    - *faster* when the interval of the ``speed`` difference (epochs to the target) lies below
      0 and the interval of the ``accuracy`` difference does not lie below 0;
    - *harmed* when the ``speed`` interval lies above 0 (slower) or the ``accuracy`` interval
      below 0 (less accurate).

    The verdict: ``"supported"`` when some cells are faster and others harmed (the gain is
    partial and depends on the setup), ``"partly supported"`` when some cells are faster and
    none harmed (a gain, but no fragility shown), ``"not supported"`` when no cell is faster
    and some are harmed, ``"inconclusive"`` when no interval excludes 0. An interval that
    contains 0 is not evidence of no effect; with many cells, a few exclusions can be chance
    (each interval has 95 % coverage on its own).

    Parameters
    ----------
    differences : DataFrame
        Columns ``quantity``, ``low``, ``high`` and the ``cell`` columns.
    speed, accuracy : str
        The ``quantity`` values of the two measures.
    cell : sequence of str
        Columns that identify a cell.

    Returns
    -------
    dict
        ``verdict`` (one of :data:`VERDICTS`) and the cells (tuples of the
        ``cell`` values) that were ``faster``, ``slower``, ``less_accurate`` and ``harmed``.
    """
    if not isinstance(differences, pd.DataFrame):
        raise TypeError(f"differences must be a DataFrame, got {type(differences).__name__}.")
    cell = list(cell)
    check_columns(differences, ["quantity", "low", "high", *cell], "differences")
    for quantity in (speed, accuracy):
        if not (differences["quantity"] == quantity).any():
            raise ValueError(f"differences has no rows of quantity {quantity!r}; it has "
                             f"{sorted(differences['quantity'].unique())}.")

    def cells(quantity, where):
        rows = differences[differences["quantity"] == quantity]
        return {tuple(row) for row in rows.loc[where(rows), cell].itertuples(index=False)}

    slower = cells(speed, lambda rows: rows["low"] > 0)
    quicker = cells(speed, lambda rows: rows["high"] < 0)
    less_accurate = cells(accuracy, lambda rows: rows["high"] < 0)
    faster = quicker - less_accurate
    harmed = slower | less_accurate
    if faster and harmed:
        verdict = "supported"
    elif faster:
        verdict = "partly supported"
    elif harmed:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    return {"verdict": verdict, "faster": sorted(faster), "slower": sorted(slower),
            "less_accurate": sorted(less_accurate), "harmed": sorted(harmed)}


def interval_outcomes(differences, threshold, claim, ceiling=None):
    """:func:`interval_outcome` of every row (``low``, ``high``) of ``differences``, in order.

    Parameters
    ----------
    differences : pandas.DataFrame
        E.g. rows of :func:`otcompanion.stats.paired_differences`, one per setup.
    threshold : float
    claim : {"above", "below"}
    ceiling : float, optional
        The largest value the compared quantity can take (1 for an accuracy). A row whose two
        methods both average ``ceiling`` (``mean_first``, ``mean_second``) with a difference
        of 0 in every pair is ``"uninformative"``: at the ceiling the runs cannot compare the
        methods, whatever the threshold.

    Returns
    -------
    list of str
        One of :data:`OUTCOMES` per row; :func:`combined_verdict` turns them into a verdict.
    """
    check_columns(differences, ["low", "high"], "differences")
    outcomes = [interval_outcome(low, high, threshold, claim)
                for low, high in differences[["low", "high"]].to_numpy()]
    if ceiling is None:
        return outcomes
    check_columns(differences, ["mean_first", "mean_second"], "differences")
    at_ceiling = ((differences["mean_first"] == ceiling) & (differences["mean_second"] == ceiling)
                  & (differences["low"] == 0) & (differences["high"] == 0)).to_numpy()
    return ["uninformative" if top else outcome for top, outcome in zip(at_ceiling, outcomes)]


def final_map_verdict(outcomes, beats_null):
    """The verdict on thesis claim 1: the trained map approximates the optimal coupling.

    Parameters
    ----------
    outcomes : list of str
        Per setup, :func:`interval_outcome` of the 95 % interval of the trained map's
        optimality (OT cost over the map's cost; 1 for an optimal map) against
        :data:`OPTIMALITY_THRESHOLD`, claim ``"above"``.
    beats_null : bool
        Whether, in every setup, the interval of the paired difference *trained map minus its
        class moves with a random residual* of the optimality lies above 0 (a null map that
        keeps what translating each class contributes, so it can reach the trained map).

    Returns
    -------
    str
        :func:`combined_verdict` of the outcomes (the optimality is near 1 in every setup, in
        some, in none, or the intervals cannot tell), except that "near 1 in every setup"
        is ``"supported"`` only when the map also beats the null map, and ``"partly
        supported"`` otherwise (a null map is near 1 too, so being near 1 says little).
    """
    near_one = combined_verdict(outcomes)
    if near_one == "supported" and not beats_null:
        return "partly supported"
    return near_one


def trajectory_verdict(upper):
    """The verdict on thesis claim 2: the training trajectory is inefficient.

    Parameters
    ----------
    upper : float
        The largest upper end, over the setups, of the 95 % intervals of the straightness and
        of the W2 path efficiency (1 for straight paths at the direct transport's length).

    Returns
    -------
    str
        ``"supported"`` below :data:`TRAJECTORY_SUPPORTED_BELOW`, ``"partly supported"`` below
        :data:`TRAJECTORY_PARTLY_BELOW`, ``"not supported"`` otherwise (NaN included).
    """
    if upper < TRAJECTORY_SUPPORTED_BELOW:
        return "supported"
    if upper < TRAJECTORY_PARTLY_BELOW:
        return "partly supported"
    return "not supported"


def multi_head_verdict(lazier, margin, test_error, versus_pooling):
    """The verdict on the multi-head claim (Deora et al., 2024) from four paired verdicts
    (:func:`paired_verdict` words, at the chapter's Holm levels).

    ``lazier``, ``margin`` and ``test_error`` are differences *more heads minus fewer heads*
    of the relative distance between the network and its linearized model, of the normalized
    NTK margin at initialization and of the test error; ``versus_pooling`` is the test error
    with the most heads minus that of a logistic regression on the mean-pooled tokens. The
    paper's mechanism improves with the heads when the distance is ``"first lower"`` (training
    closer to the linearized model), the margin ``"first higher"`` and the test error
    ``"first lower"``.

    Returns
    -------
    str
        ``"not supported"`` when any of the three goes the other way; ``"supported"`` when all
        three improve and the test error is also below mean pooling's (the gain is not what
        averaging the tokens gives); ``"partly supported"`` when some improve;
        ``"inconclusive"`` when none is told apart.
    """
    for word in (lazier, margin, test_error, versus_pooling):
        check_choice(word, "paired verdict", PAIRED_VERDICTS)
    improvements = (lazier == "first lower", margin == "first higher",
                    test_error == "first lower")
    worse = lazier == "first higher" or margin == "first lower" or test_error == "first higher"
    if worse:
        return "not supported"
    if all(improvements) and versus_pooling == "first lower":
        return "supported"
    return "partly supported" if any(improvements) else "inconclusive"


# Chapter 03 rules

#: A best epoch after this share of the budget counts as late: the validation loss was still
#: falling near the end of training, so the best epoch measures how long the loss kept
#: shrinking rather than when the classes were separated (chapter 03, against the thesis's
#: convergence measure).
LATE_BEST_EPOCH_SHARE = 0.9

#: A gain whose interval ends closer to 0 than this share of its mean is called close to 0:
#: other data or another budget could move it to 0 (chapter 03's budget sentence).
NARROW_GAIN_SHARE = 0.25


def gain_is_narrow(difference, high):
    """Whether the interval of a negative difference (a gain) ends close to 0: ``-high`` below
    :data:`NARROW_GAIN_SHARE` of ``-difference`` (element-wise for arrays)."""
    return -high < NARROW_GAIN_SHARE * -difference


# Chapter 04 rules

#: Threshold of the cost claim: OT minus Transformer seconds must lie below 0 ("cheaper").
COST_THRESHOLD = 0.0
#: Threshold of the scaling claim: standardized minus raw exponent must lie below 0 (the fit
#: time grows more slowly with standardized inputs).
SCALING_THRESHOLD = 0.0
#: Threshold of the geometry claim: a setting minus the thesis geometry's accuracy below 0
#: means the setting lowers the accuracy, so the choice of geometry matters.
GEOMETRY_THRESHOLD = 0.0

#: The rule of each claim's verdict in one line, printed beside the verdict in the findings
#: table (:func:`findings_table`); the functions of this module apply them.
RULES = {
    "final map": (f"every setup's optimality interval above {OPTIMALITY_THRESHOLD:g}, and the "
                  "map above its own class moves with a random residual in every setup"),
    "trajectory": (f"largest upper end of the straightness and W2 path-efficiency intervals "
                   f"below {TRAJECTORY_SUPPORTED_BELOW:g} (supported) or "
                   f"{TRAJECTORY_PARTLY_BELOW:g} (partly)"),
    "pretraining": ("faster: epochs-to-target interval below 0 without lower accuracy; "
                    "harmed: slower or less accurate; both somewhere: supported; read at "
                    "every epoch budget of the range"),
    "ot classifier accuracy": ("every informative setup's interval of OT minus Transformer "
                               "accuracy above minus the margin (default "
                               f"{ACCURACY_MARGIN:g}); setups at the ceiling count for "
                               "nothing"),
    "ot classifier cost": (f"every setup's interval of OT minus Transformer CPU seconds below "
                           f"{COST_THRESHOLD:g}"),
    "ot classifier scaling": ("every solver's interval of the exponent, standardized minus "
                              f"raw, below {SCALING_THRESHOLD:g}"),
    "ot classifier geometry": ("some setting's Holm-adjusted accuracy interval, setting minus "
                               f"thesis geometry, below {GEOMETRY_THRESHOLD:g}"),
    "multi-head": ("more heads bring training closer to the linearized model, a larger NTK "
                   "margin and a lower test error (Holm levels): all three and a test error "
                   "below mean pooling's, supported; some, partly; any worse, not supported"),
}


def check_accuracy_margin(margin):
    """The margin of "comparable accuracy" (the OT classifier at most ``margin`` below the
    Transformer), which must lie in (0, 1): an accuracy difference lies in [-1, 1]."""
    if not 0 < margin < 1:
        raise ValueError(f"accuracy_margin must be in (0, 1), got {margin}.")
    return margin


def accuracy_outcomes(differences, margin):
    """Per group, does the OT classifier's accuracy come within ``margin`` of the
    Transformer's (thesis claim 4)? :func:`interval_outcomes` of the paired differences OT
    minus Transformer (:func:`otcompanion.experiments.ot_minus_transformer`) against
    ``-margin``, a group where both models score 1 in every run being ``"uninformative"``."""
    return interval_outcomes(differences, -check_accuracy_margin(margin), "above", ceiling=1.0)


def cost_outcomes(differences):
    """Per group, is the OT classifier cheaper (thesis claim 4)? :func:`interval_outcomes` of
    the paired time differences OT minus Transformer below :data:`COST_THRESHOLD`."""
    return interval_outcomes(differences, COST_THRESHOLD, "below")


def geometry_verdict(outcomes):
    """The geometry claim's verdict from the outcome per setting ("support": the setting
    lowers the accuracy): supported when one setting does, inconclusive when every interval
    contains 0, not supported otherwise."""
    if outcomes.count("support"):
        return "supported"
    return "inconclusive" if all(o == "undecided" for o in outcomes) else "not supported"


# Chapter 06 rules


def heads_lazier(linearization, key_query):
    """More heads are lazier when, with more heads, both the relative distance between the
    network's outputs and its linearized model's and the change of each key-query matrix are
    lower (paired differences, more minus fewer heads, rows of
    :func:`otcompanion.stats.paired_differences`)."""
    return linearization["verdict"] == "first lower" and key_query["verdict"] == "first lower"

