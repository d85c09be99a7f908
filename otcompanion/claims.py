"""The claims ledger: what each chapter's runs say about each claim of the two works.

A chapter states its findings with :func:`publish`, in a cell tagged ``remove-cell`` (the web
page shows the findings in the chapter's prose; the executed notebook keeps them as an output
of type :data:`MIME`). When the book is built, :func:`collect` reads these outputs from every
executed chapter and :func:`ledger_markdown` writes the ledger page, so every verdict in it was
computed by the build that shows it.

Each finding names a claim of :data:`CLAIMS`, a verdict (one of :data:`VERDICTS`), and the
evidence: the quantity, its value with a 95 % interval (:mod:`otcompanion.stats`) and the
number of runs, worded no more strongly than the interval allows.

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

import nbformat
import pandas as pd

from ._validation import check_choice

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

#: The verdict words of a finding.
VERDICTS = ("supported", "partly supported", "not supported", "inconclusive")


def finding(claim, verdict, evidence, setup="all setups"):
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
    return {"claim": claim, "verdict": verdict, "evidence": evidence, "setup": setup}


def publish(findings):
    """Display ``findings`` (from :func:`finding`) as an output that :func:`collect` reads.

    Call it in a cell tagged ``remove-cell``: nothing shows on the web page.
    """
    from IPython.display import display

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
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if MIME in data:
                    payload = data[MIME]
                    if isinstance(payload, str):
                        payload = json.loads(payload)
                    rows += [{"chapter": path.stem, **item} for item in payload]
    frame = pd.DataFrame(rows, columns=["chapter", "claim", "setup", "verdict", "evidence"])
    order = {claim: i for i, claim in enumerate(CLAIMS)}
    frame["_order"] = frame["claim"].map(order)
    return frame.sort_values(["_order", "chapter"], kind="stable").drop(columns="_order")


def ledger_markdown(findings):
    """The ledger page's body: one section per claim, one bullet per finding.

    A claim without findings says so (no chapter tested it in this build).
    """
    lines = []
    for claim, statement in CLAIMS.items():
        lines += [f"## {claim.capitalize()}", "", f"*{statement}*", ""]
        rows = findings[findings["claim"] == claim]
        if rows.empty:
            lines += ["No chapter of this build tested this claim.", ""]
            continue
        for row in rows.itertuples():
            lines.append(f"- **{row.verdict}** ({row.setup}; {{doc}}`chapters/{row.chapter}`): "
                         f"{row.evidence}")
        lines.append("")
    return "\n".join(lines)


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


def check_accuracy_margin(margin):
    """The margin of "comparable accuracy" (the OT classifier at most ``margin`` below the
    Transformer), which must lie in (0, 1): an accuracy difference lies in [-1, 1]."""
    if not 0 < margin < 1:
        raise ValueError(f"accuracy_margin must be in (0, 1), got {margin}.")
    return margin


def geometry_verdict(outcomes):
    """The geometry claim's verdict from the outcome per setting ("support": the setting
    lowers the accuracy): supported when one setting does, inconclusive when every interval
    contains 0, not supported otherwise."""
    if outcomes.count("support"):
        return "supported"
    return "inconclusive" if all(o == "undecided" for o in outcomes) else "not supported"


# Chapter 06 rules


def heads_lazier(tv, key_query):
    """More heads are lazier when, with more heads, both the distance from attention to its
    Sinkhorn plan and the change of each key-query matrix are lower (paired differences, more
    minus fewer heads, rows of :func:`otcompanion.stats.paired_differences`)."""
    return tv["verdict"] == "first lower" and key_query["verdict"] == "first lower"


def multi_head_verdict(loss_end, test_error, margin):
    """The multi-head claim's verdict from three paired differences, more minus fewer heads.

    An improvement is a lower final training loss, a lower test error, a larger NTK margin at
    initialization. Not supported when any of the three is worse with more heads; supported
    when all three improve; partly supported when some do; inconclusive when none is resolved.
    """
    improvements = [loss_end["verdict"] == "first lower", test_error["verdict"] == "first lower",
                    margin["verdict"] == "first higher"]
    worse = (loss_end["verdict"] == "first higher" or test_error["verdict"] == "first higher"
             or margin["verdict"] == "first lower")
    return ("not supported" if worse else "supported" if all(improvements)
            else "partly supported" if any(improvements) else "inconclusive")
