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


# Chapter 02 rules
#: Lowest lower bound of a setup's optimality interval for the final map to count as optimal.
OPTIMALITY_THRESHOLD = 0.99
#: Upper bounds of straightness / W2 path efficiency below which paths count as far from direct
#: (claim 2 supported) and, up to the second, as indirect (partly supported).
INDIRECT_PATHS, NOT_DIRECT_PATHS = 0.5, 0.9


def final_map_verdict(lowest_bound, beats_translations):
    """Verdict on claim 1 (the final map is the optimal coupling), thesis Section 4.

    *supported* when the lowest lower bound of the setups' optimality intervals is at least
    :data:`OPTIMALITY_THRESHOLD` and the trained map's optimality beats that of random instance
    translations in every setup (paired intervals above 0), *partly supported* when only the
    first holds, *not supported* otherwise.
    """
    if lowest_bound >= OPTIMALITY_THRESHOLD:
        return "supported" if beats_translations else "partly supported"
    return "not supported"


def trajectory_verdict(upper):
    """Verdict on claim 2 (the training trajectory is inefficient), thesis Section 4.

    ``upper`` is the highest upper bound, over setups, of the 95 % intervals of straightness and
    W2 path efficiency (1 for a direct path): *supported* below :data:`INDIRECT_PATHS`,
    *partly supported* below :data:`NOT_DIRECT_PATHS`, *not supported* otherwise.
    """
    if upper < INDIRECT_PATHS:
        return "supported"
    return "partly supported" if upper < NOT_DIRECT_PATHS else "not supported"
