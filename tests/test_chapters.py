"""Smoke runs of the chapters with tiny parameters: they execute, reproduce, and react to
parameters. (00_data is covered in test_cli.py.)"""

import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from otcompanion import book, claims, experiments, pretrain, stats
from otcompanion import multihead as mh

pytestmark = pytest.mark.slow  # every test runs a chapter in a Jupyter kernel

TRACING_TINY = {"tasks": [2, 3], "n_instances": 30, "n_tokens": 4, "epochs": 5, "n_heads": 2,
                "n_paths": 5}
METRICS_TINY = {"tasks": [2, 3], "levels": [1], "n_repetitions": 2, "epochs": 4, "n_heads": 2,
                "curve_points": 2, "ablation_repetitions": 2, "ablation_lrs": [0.01, 0.1]}


def figures(path):
    """Every figure of an executed chapter: shown ones and glued ones (myst-nb ``glue``)."""
    notebook = nbformat.read(path, as_version=4)
    return [data[key] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) for data in [output.get("data", {})]
            for key in ("image/png", "application/papermill.record/image/png") if key in data]


def glued(path):
    """The values a chapter glued for its prose (myst-nb), by name: the Markdown of a sentence
    (:func:`otcompanion.chapter.glue` of a string), else the text/plain form."""
    notebook = nbformat.read(path, as_version=4)
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = output["data"]
                values[name] = (data.get("application/papermill.record/text/markdown")
                                or data.get("application/papermill.record/text/plain"))
    return values


def findings(path):
    """The claims-ledger findings a chapter published."""

    return claims.collect([path]).to_dict("records")


def text_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(output.get("data", {}).get("text/plain", "") + output.get("text", "")
                     for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))


def test_attention_tracing_runs_and_follows_its_seed(tmp_path):
    # That the same parameters give the same page is checked once, on 00_data (test_cli.py),
    # and for training itself whatever the processor settings (test_cpu_paths.py).
    first, other = (tmp_path / f"{name}.ipynb" for name in ("first", "other"))
    book.run_chapter("01_attention_tracing", TRACING_TINY, output=first, echo=None)
    book.run_chapter("01_attention_tracing", {**TRACING_TINY, "seed": 4}, output=other,
                     echo=None)
    # Learning curves, map, paths, sublayer stages, attention heads, attention couplings.
    assert len(figures(first)) == 6
    assert figures(first) != figures(other)
    assert "distinct moves" in text_outputs(first)
    values = glued(first)
    assert values != glued(other)
    assert "Test instance accuracy" in values["chapter-findings"]
    assert values["n-paths"] == "5"
    assert float(values["attention-uniform"]) == 1 / TRACING_TINY["n_tokens"]
    assert 1 / TRACING_TINY["n_tokens"] <= float(values["attention-max"]) <= 1
    assert "(2 classes)" in values["straightness"] and "(3 classes)" in values["straightness"]
    assert re.fullmatch(r"1 distinct move|\d+ distinct moves", values["moves-in-instance"])
    assert 1 <= int(values["moves-in-instance"].split()[0]) <= int(values["moves-overall-max"])
    assert float(values["logit-change-low"]) <= float(values["logit-change-high"])


def test_ot_metrics_runs_on_two_workers_and_publishes_its_verdicts(tmp_path):
    # That the grids give the same numbers on any scheduler is checked on the grids themselves
    # (test_experiments.py, test_engine.py); here the chapter runs on two worker processes.
    parallel = tmp_path / "parallel.ipynb"
    book.run_chapter("02_ot_metrics", {**METRICS_TINY, "scheduler": "2"}, output=parallel,
                     echo=None)
    assert len(figures(parallel)) == 2
    text = text_outputs(parallel)
    assert "estimated thesis-profile time" in text and "n_repetitions" in text
    values = glued(parallel)
    assert values["c1-runs"] == "4"  # 2 tasks x 1 level x 2 repetitions
    assert values["ab-runs"] == "2"
    published = findings(parallel)
    assert [item["claim"] for item in published] == ["final map", "trajectory"]
    assert all(item["verdict"] in claims.VERDICTS for item in published)
    assert published[0]["verdict"] == values["c1-verdict"].strip("'")


PRETRAINING_TINY = {"tasks": [2, 3], "levels": [1], "n_repetitions": 3, "epochs": 3,
                    "patience": 2, "reference_epochs": 4, "n_heads": 2,
                    "sensitivity_repetitions": 2, "radius_factors": [2.0], "shorter_budgets": [2]}


def test_mlp_pretraining_publishes_the_verdict_its_runs_give(tmp_path, monkeypatch):
    # The runs are cached in a folder of this test's own, so that the check below reads the
    # very runs the chapter trained instead of training them again.
    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "0")
    monkeypatch.setenv("OTCOMPANION_CACHE_DIR", str(tmp_path / "runs"))
    out = tmp_path / "pretraining.ipynb"
    book.run_chapter("03_mlp_pretraining", PRETRAINING_TINY, output=out, echo=None)
    assert len(figures(out)) >= 1  # the exercise's figure; the others are glued
    values = glued(out)
    for name in ("pretraining-clouds", "pretraining-curves", "pretraining-differences",
                 "pretraining-head-fit", "pretraining-verdict", "pretraining-evidence",
                 "pretraining-thesis-minutes", "pretraining-budgets-figure",
                 "pretraining-range-verdict"):
        assert name in values, name
    findings = claims.collect([out])
    assert list(findings["claim"]) == ["pretraining"]
    verdict = findings["verdict"].iloc[0]
    assert verdict in claims.VERDICTS and values["pretraining-range-verdict"] == f"**{verdict}**"
    # The same runs, computed here by the package, give the same verdicts: at the chapter's
    # budget, and over the range of budgets.
    conditions = {"aligned means, head per repetition": {"head": "per repetition",
                                                         "geometry": "aligned"},
                  "aligned means, one head": {"head": "shared", "geometry": "aligned"},
                  "circle, head per repetition": {"head": "per repetition"},
                  "circle, one head": {"head": "shared"},
                  "random rotation, head per repetition": {"head": "per repetition",
                                                           "rotation": "random"},
                  "unpretrained": None}
    tiny = {key: PRETRAINING_TINY[key]
            for key in ("epochs", "patience", "reference_epochs", "n_heads")}
    summary, histories = experiments.pretraining_grid(conditions, [2, 3], [1], 3,
                                                      progress=False, **tiny)
    assert any((tmp_path / "runs").rglob("*.pkl"))  # the runs came from the chapter's cache
    pooled = experiments.pretraining_differences(
        summary, ["epochs_to_target_capped", "val_accuracy"], baseline="unpretrained",
        pool_levels=True)
    at_budget = pretrain.pretraining_verdict(pooled, cell=("n_classes", "condition"))["verdict"]
    assert values["pretraining-verdict"] == f"**{at_budget}**"
    checks = experiments.budget_verdicts(histories, [2, 3], {2: "2 classes", 3: "3 classes"},
                                         patience=2, target_accuracy=1.0)
    assert claims.budget_range_verdict({check["budget"]: check["verdict"]
                                        for check in checks}) == verdict
    assert "3 repetitions" in findings["setup"].iloc[0]


BIOMEDICAL_TINY = {"n_splits": 2, "n_repeats": 1, "transformer_epochs": 2, "transformer_heads": 2,
                   "ot_epochs": 2}


def write_csv(path, n_rows=40):
    """A patients' table in the form a user brings: six features and a diagnosis. (A bad CSV is
    refused by otcompanion.data.load_csv before any training: tests/test_loaders.py.)"""
    rng = np.random.default_rng(0)
    lines = ["f1,f2,f3,f4,f5,f6,diagnosis"]
    for label in ["healthy", "ill"] * (n_rows // 2):
        values = rng.normal(size=6) + (1.5 if label == "ill" else 0.0)
        lines.append(",".join([f"{v:.4f}" for v in values] + [label]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_biomedical_case_runs_on_the_bundled_table(tmp_path):
    out = tmp_path / "bundled.ipynb"
    book.run_chapter("05_biomedical_case", BIOMEDICAL_TINY, output=out, echo=None)
    text = text_outputs(out)
    assert "OT classifier" in text and "gradient boosting" in text and "569" in text
    assert len(figures(out)) == 2  # scores over folds, the OT classifier's mapped space
    values = glued(out)
    assert values["n-models"] == "6" and values["n-folds"] == "2"
    assert "breast-cancer table" in values["data-source"]
    assert float(values["baseline-low"]) <= float(values["baseline-high"])
    for key in ("ot", "tf"):
        assert 1 <= int(values[f"{key}-rank"]) <= 6
        assert 0 <= float(values[f"{key}-balanced"]) <= 1


def test_biomedical_case_runs_unchanged_on_a_users_csv(tmp_path):
    csv = write_csv(tmp_path / "patients.csv")
    out = tmp_path / "csv.ipynb"
    book.run_chapter("05_biomedical_case", {**BIOMEDICAL_TINY, "data_path": str(csv),
                                            "target": "diagnosis", "csv_tokens": 2},
                     output=out, echo=None)
    text = text_outputs(out)
    assert "CSV file" in text and "2 x 3" in text and "class ill" in text
    assert "CSV file" in glued(out)["data-source"]


DUMMY_TINY = {"tasks": [2], "levels": [1], "n_repetitions": 2, "epochs": 3, "n_heads": 2,
              "ot_epochs": 3, "patience": 2, "hard_tasks": [2], "token_counts": [4],
              "few_instances": 12, "scaling_tokens": [60, 120], "scaling_repetitions": 2}


def glued_data(path):
    """The values a chapter glued for its prose (myst-nb), by name: mime type -> value."""
    notebook = nbformat.read(path, as_version=4)
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                values[record["name"]] = {key.removeprefix(record["mime_prefix"]): value
                                          for key, value in output["data"].items()}
    return values


def test_dummy_gaussian_runs_and_publishes_computed_verdicts(tmp_path):
    out = tmp_path / "dummy.ipynb"
    book.run_chapter("04_dummy_gaussian", DUMMY_TINY, output=out, echo=None)
    findings = claims.collect([out])
    assert set(findings["claim"]) == {"ot classifier accuracy", "ot classifier cost",
                                      "ot classifier scaling", "ot classifier geometry"}
    assert findings["verdict"].isin(claims.VERDICTS).all()
    assert (findings["chapter"] == "dummy").all()
    # The evidence states computed numbers: runs, intervals, every solver of the scaling study.
    assert findings["evidence"].str.contains(r"paired over \d+ runs").all()
    with_interval = findings["evidence"].str.contains(r"\d+\.\d+ \[−?\d+\.\d+, −?\d+\.\d+\]")
    assert with_interval[~findings["claim"].isin(["ot classifier cost",
                                                  "ot classifier geometry"])].all()
    geometry = findings[findings["claim"] == "ot classifier geometry"].iloc[0]
    # Supported exactly when some setting lowers the accuracy (its interval is then quoted).
    assert (geometry["verdict"] == "supported") == ("(none)" not in geometry["evidence"])
    scaling = findings.loc[findings["claim"] == "ot classifier scaling", "evidence"].item()
    for solver in ("exact", "sinkhorn", "minibatch", "gaussian"):
        assert f"{solver}:" in scaling
    # The prose's verdicts are the published ones.
    values = glued_data(out)
    verdicts = findings.set_index("setup")["verdict"]
    scaling_verdict = findings.loc[findings["claim"] == "ot classifier scaling", "verdict"].item()
    assert values["ot-scaling-verdict"]["text/markdown"] == scaling_verdict
    budget = verdicts[verdicts.index.str.startswith("thesis budgets")]
    assert values["ot-accuracy-budget-verdict"]["text/markdown"] == budget.iloc[0]
    assert int(values["ot-setups"]["text/plain"]) == 1  # one task, one level
    # Every number or sentence the prose quotes was glued, with the type its role reads.
    notebook = nbformat.read(out, as_version=4)
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    roles = re.findall(r"\{glue:(text|md|figure)\}`([^`:]+)", prose)
    roles += re.findall(r"```\{glue:(figure)\} (\S+)", prose)
    assert len(roles) > 30
    mime = {"text": "text/plain", "md": "text/markdown", "figure": "image/png"}
    for role, name in roles:
        assert mime[role] in values[name], (role, name)
        if role == "text":  # a Markdown object would show as its repr
            assert "text/markdown" not in values[name], name
    assert sum("image/png" in data for data in values.values()) >= 6  # glued figures


# Chapter 04 validates `tasks` and `hard_tasks` with otcompanion.chapter.task_names and
# `accuracy_margin` with otcompanion.claims.check_accuracy_margin, in its first code cell: unit
# tests in test_chapter.py and test_claims.py.


MULTIHEAD_TINY = {"heads": [1, 4], "n_train": 12, "sample_sizes": [12, 24],
                  "sample_size_heads": [1], "n_repetitions": 2, "steps": 10, "n_test": 20,
                  "curve_every": 5, "sweep_heads": [1, 2], "lr_sweep": [1.0, 4.0],
                  "init_scales": [0.1], "selection_steps": 10, "bridge_heads": [1, 2],
                  "bridge_epochs": 3, "bridge_blocks": 1, "scheduler": "1"}


def test_multi_head_runs_and_glues_numbers_computed_from_its_runs(tmp_path, monkeypatch):


    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "1")
    out = tmp_path / "multihead.ipynb"
    book.run_chapter("06_multi_head", MULTIHEAD_TINY, output=out, echo=None)
    values = glued(out)
    for figure in ("mh-loss-curves", "mh-linearization", "mh-versus-heads", "mh-versus-n",
                   "mh-selection", "mh-bridge"):
        assert figure in values
    # The margin verdict quotes the paired difference of the package's own runs.
    options = {name: MULTIHEAD_TINY[name] for name in ("steps", "n_test")}
    runs = pd.DataFrame([mh.multihead_run(H, 12, repetition, **options)[0]
                         for H in (1, 4) for repetition in range(2)])
    margin = stats.paired_differences(runs, [], ["repetition"], "n_heads", 4, 1,
                                      ["ntk_margin_init"]).iloc[0]
    quoted = re.search(r"the difference is ([+−]?[\d.]+)", values["mh-margin"]).group(1)
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    assert quoted == stats.format_value(margin["difference"], signed=True, decimals=decimals)
    assert f"{margin['pairs']} pairs" in values["mh-margin"]
    assert values["mh-h-high"] == "4" and values["mh-bridge-runs"] == "4"
    # The linearization distance quoted for the most heads is the runs' own.
    assert values["mh-lin-high"] == stats.interval_text(
        runs.loc[runs["n_heads"] == 4, "lin_relative_distance"])
    notebook = nbformat.read(out, as_version=4)
    ledger = [output["data"] for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if claims.MIME in output.get("data", {})]
    assert len(ledger) == 1 and ledger[0][claims.MIME][0]["claim"] == "multi-head"
