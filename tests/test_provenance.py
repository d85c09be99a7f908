"""The provenance table closing every chapter."""

import time

import torch

from otcompanion import provenance as provenance_module
from otcompanion.provenance import provenance


def test_provenance_lists_parameters_versions_threads_and_wall_time():
    started = time.perf_counter() - 2.0
    table = provenance({"seed": 3, "tasks": [2, 3]}, started)
    values = dict(zip(table["item"], table["value"]))
    assert list(table.columns) == ["item", "value"]
    assert values["parameter seed"] == "3" and values["parameter tasks"] == "[2, 3]"
    for package in provenance_module.PACKAGES:
        assert package in values
    assert values["numpy"] != "not installed"
    assert float(values["wall time"].removesuffix(" s")) >= 2.0


def test_torch_threads_are_recorded_once_torch_is_loaded():
    values = dict(provenance({}, time.perf_counter()).to_numpy())
    assert values["torch intra-op threads"] == str(torch.get_num_threads())


def test_a_missing_package_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(provenance_module, "PACKAGES", ("numpy", "no-such-package-xyz"))
    values = dict(provenance({}, time.perf_counter()).to_numpy())
    assert values["no-such-package-xyz"] == "not installed"
