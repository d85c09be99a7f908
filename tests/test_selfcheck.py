"""The public self-checks of a student notebook (otcompanion.selfcheck)."""

import numpy as np
import pandas as pd
import pytest

from otcompanion import selfcheck


@pytest.mark.parametrize(("value", "form", "problem"), [
    (..., {"type": "number"}, "not answered yet"),
    ("a", {"type": "number"}, "expected numbers"),
    ([1.0, 2.0], {"type": "number"}, "expected one number"),
    (float("nan"), {"type": "number"}, "not finite"),
    (np.zeros(3), {"type": "array", "shape": [2]}, "expected shape (2,)"),
    ([1, 2], {"type": "table", "columns": ["a"], "rows": 2}, "expected a pandas DataFrame"),
    (pd.DataFrame({"b": [1]}), {"type": "table", "columns": ["a"], "rows": 1}, "no column 'a'"),
    (pd.DataFrame({"a": [1]}), {"type": "table", "columns": ["a"], "rows": 2}, "expected 2 rows"),
    (pd.DataFrame({"a": [np.inf]}), {"type": "table", "columns": ["a"], "rows": 1},
     "not finite"),
    (None, {"type": "any"}, "not answered yet"),
])
def test_self_check_names_what_is_wrong_with_the_form(value, form, problem):
    (found,) = selfcheck.form_problems("answer", value, form)
    assert problem in found


def test_self_check_passes_good_forms_and_states_the_tolerance(capsys):
    forms = {"n": {"type": "number"}, "v": {"type": "array", "shape": [2]},
             "t": {"type": "table", "columns": ["a"], "rows": 1}, "o": {"type": "any"}}
    env = {"n": np.float64(1.0), "v": [1, 2], "t": pd.DataFrame({"a": [1.0]}), "o": "x"}
    assert selfcheck.self_check("ex", forms, env, tolerances=[("n", "atol=1e-09")])
    out = capsys.readouterr().out
    assert "form of every answer is right" in out and "graded: n within atol=1e-09" in out
    assert not selfcheck.self_check("ex", forms, {**env, "n": ...})
    assert "fix the form first" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown type"):
        selfcheck.form_problems("x", 1, {"type": "matrix"})
