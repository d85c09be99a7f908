"""The claims ledger: findings published by chapters, collected from executed notebooks."""

import nbformat
import pytest

from otcompanion import claims


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
    assert text.index("## Final map") < text.index("## Trajectory")
    assert "## Pretraining" in text and "No chapter of this build tested this claim." in text


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


def test_multi_head_rules():
    lower, higher = {"verdict": "first lower"}, {"verdict": "first higher"}
    open_ = {"verdict": "no difference detected"}
    assert claims.multi_head_verdict(lower, lower, higher) == "supported"
    assert claims.multi_head_verdict(lower, open_, open_) == "partly supported"
    assert claims.multi_head_verdict(open_, open_, open_) == "inconclusive"
    assert claims.multi_head_verdict(lower, higher, higher) == "not supported"
    assert claims.multi_head_verdict(lower, lower, lower) == "not supported"
    assert claims.heads_lazier(lower, lower)
    assert not claims.heads_lazier(lower, open_)
