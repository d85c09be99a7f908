"""The engine: schedulers (joblib locally, Dask on a cluster) and the run cache."""

import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from otcompanion import engine, experiments

TINY_RUN = dict(epochs=3, n_heads=2, n_instances=30, n_tokens=4, curve_points=2)
TIMES = ["fit_seconds", "metrics_seconds"]


def test_check_scheduler_accepts_the_three_forms():
    assert engine.check_scheduler("local") == "local"
    assert engine.check_scheduler(3) == 3
    assert engine.check_scheduler("4") == 4  # as given on the command line
    assert engine.check_scheduler("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert engine.worker_count(3) == 3 and engine.worker_count("tcp://h:1") is None
    assert engine.worker_count("local") == engine.local_cores() >= 1


@pytest.mark.parametrize("scheduler, error, message", [
    ("cluster", ValueError, "scheduler must be 'local', a number of worker processes"),
    ("http://host:8786", ValueError, "a Dask scheduler address"),
    (0, ValueError, "scheduler must be at least 1"),
    ("0", ValueError, "scheduler must be at least 1"),
    (1.5, TypeError, "scheduler must be an integer"),
    (True, TypeError, "scheduler must be an integer"),
    (None, TypeError, "scheduler must be an integer"),
])
def test_check_scheduler_rejects_bad_values(scheduler, error, message):
    with pytest.raises(error, match=message):
        engine.check_scheduler(scheduler)


@pytest.mark.slow
def test_run_jobs_keeps_job_order_on_every_local_scheduler():
    jobs = [{"seed": s} for s in range(6)]
    expected = [experiments.run_seed(s) for s in range(6)]
    for scheduler in (1, 2, "local", "2"):
        assert engine.run_jobs(experiments.run_seed, jobs, scheduler=scheduler,
                               progress=False) == expected
    assert engine.run_jobs(experiments.run_seed, [], progress=False) == []


def test_run_jobs_shows_a_progress_bar_only_in_a_terminal(capsys):
    jobs = [{"seed": s} for s in range(3)]
    engine.run_jobs(experiments.run_seed, jobs, scheduler=1, progress=True)
    # pytest's captured stderr is not a terminal, as a notebook's is not: no bar.
    assert capsys.readouterr().err == ""


def test_run_jobs_rejects_bad_input():
    with pytest.raises(TypeError, match="jobs must be a list of dicts"):
        engine.run_jobs(experiments.run_seed, [1, 2], progress=False)
    with pytest.raises(TypeError, match="function must be callable"):
        engine.run_jobs("run_seed", [{}], progress=False)
    with pytest.raises(TypeError, match="progress must be True or False"):
        engine.run_jobs(experiments.run_seed, [{"seed": 1}], progress="yes")


def test_an_unknown_dask_address_fails_fast_and_names_it(monkeypatch):
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 2)
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"scheduler 'tcp://127.0.0.1:9': no Dask scheduler"):
        engine.run_jobs(experiments.run_seed, [{"seed": 1}], scheduler="tcp://127.0.0.1:9",
                        progress=False)
    assert time.perf_counter() - started < 30  # a bound against hanging, not a timing claim


@pytest.mark.slow
def test_a_dask_cluster_gives_the_numbers_of_the_local_run():
    distributed = pytest.importorskip("distributed")
    local, local_curves = experiments.transformer_grid((2, 3), (1,), 1, seed=3, scheduler=1,
                                                       progress=False, **TINY_RUN)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote, remote_curves = experiments.transformer_grid(
            (2, 3), (1,), 1, seed=3, scheduler=cluster.scheduler_address, progress=False,
            **TINY_RUN)
    pd.testing.assert_frame_equal(local.drop(columns=TIMES), remote.drop(columns=TIMES))
    for name in local_curves:
        pd.testing.assert_frame_equal(local_curves[name], remote_curves[name])


@pytest.fixture
def run_cache(tmp_path, monkeypatch):
    """The run cache turned on, in a fresh folder."""
    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "0")
    monkeypatch.setenv("OTCOMPANION_CACHE_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_cache_dir_and_switch_follow_the_environment(run_cache, monkeypatch):
    assert engine.cache_dir() == run_cache and engine.cache_enabled()
    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "1")
    assert not engine.cache_enabled()
    monkeypatch.delenv("OTCOMPANION_CACHE_DIR")
    assert engine.cache_dir().name in ("runs", "otcompanion")


def test_a_cached_run_is_computed_once_and_missed_by_other_parameters_or_code(run_cache,
                                                                              monkeypatch):
    options = dict(n_classes=2, level=1, repetition=0, seed=4, trajectory_start="input",
                   optimizer="rmsprop", lr=1e-2, n_features=2,
                   **TINY_RUN, n_blocks=2)
    first = experiments.traced_run(**{**options, "n_blocks": 2})
    assert engine.is_cached(experiments._traced_run, **options)
    again = experiments.traced_run(**options)
    # Read back, not recomputed: even the measured fit time is the first run's.
    assert again["summary"] == first["summary"]
    assert not engine.is_cached(experiments._traced_run, **{**options, "seed": 5})
    assert not engine.is_cached(experiments._traced_run, **{**options, "epochs": 4})
    monkeypatch.setattr(engine, "_CODE_HASH", "another version")
    assert not engine.is_cached(experiments._traced_run, **options)
    recomputed = experiments.traced_run(**options)
    assert recomputed["summary"]["fit_seconds"] != first["summary"]["fit_seconds"]
    assert recomputed["summary"]["optimality"] == first["summary"]["optimality"]


def test_the_unpretrained_run_of_chapter_03_is_chapter_02s_traced_run(run_cache):
    tiny = dict(epochs=3, n_heads=2)
    record = experiments.traced_run(2, 2, 0, seed=1, **tiny)
    summary, history = experiments.pretraining_run(2, 2, 0, seed=1, condition="none", **tiny)
    assert summary["fit_seconds"] == record["summary"]["fit_seconds"]  # read from the cache
    assert summary["reference_best_epoch"] == record["summary"]["best_epoch"]
    assert list(history["condition"].unique()) == ["none"]
    # And it is the same run as training it again without the cache.
    os.environ["OTCOMPANION_NO_CACHE"] = "1"
    try:
        fresh, _ = experiments.pretraining_run(2, 2, 0, seed=1, condition="none", **tiny)
    finally:
        os.environ["OTCOMPANION_NO_CACHE"] = "0"
    assert fresh["fit_seconds"] != summary["fit_seconds"]
    assert {k: v for k, v in fresh.items() if k != "fit_seconds"} == pytest.approx(
        {k: v for k, v in summary.items() if k != "fit_seconds"}, nan_ok=True)


def test_the_code_hash_is_stable_within_a_process():
    assert engine.code_hash() == engine.code_hash() and len(engine.code_hash()) == 16


@pytest.mark.parametrize("edited", ["attention/transformer.py", "metrics.py", "ot_solvers.py"])
def test_an_edit_of_the_training_or_metrics_code_changes_the_code_hash(tmp_path, edited):
    # A run computed by other metrics code must not be read back from the run cache.
    package = tmp_path / "otcompanion"
    shutil.copytree(Path(engine.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert engine._hash_sources(package) == engine.code_hash()
    module = package / edited
    module.write_text(module.read_text() + "# an edit\n")
    assert engine._hash_sources(package) != engine.code_hash()
