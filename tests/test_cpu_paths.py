"""The processor code paths torch's floats depend on are pinned (otcompanion.cpu_paths)."""

import concurrent.futures
import os
import subprocess
import sys

import pytest

from otcompanion import cpu_paths, provenance

# A thesis-size fit whose weights and best epoch change with MKL_CBWR and ATEN_CPU_CAPABILITY
# when they are not pinned (measured on an AMD EPYC processor with AVX-512).
FIT = """
import hashlib, sys
{first}
import torch
torch.set_num_threads(1)
from otcompanion import attention, data
X_train, X_test, y_train, y_test = data.thesis_split(3, 1, seed=5)
fit = attention.train_transformer(X_train, y_train, X_test, y_test, epochs=30, n_blocks=2,
                                  n_heads=10, seed=1, attention_every=0)
digest = hashlib.sha256(fit.history.to_numpy().tobytes())
for weight in fit.model.state_dict().values():
    digest.update(weight.numpy().tobytes())
print(fit.best_epoch, digest.hexdigest())
"""


def run(code, **settings):
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY", cpu_paths.OPT_OUT)}
    environment.update({name: value for name, value in settings.items() if value is not None})
    return subprocess.run([sys.executable, "-W", "always::RuntimeWarning", "-c", code],
                          env=environment, capture_output=True, text=True, check=True)


needs_x86 = pytest.mark.skipif(not cpu_paths.applies(), reason="pinning applies to x86-64 only")


@needs_x86
@pytest.mark.slow
def test_fits_are_identical_whatever_the_outside_settings():
    outside = [(None, None), ("AVX2", "avx2"), ("AVX512", "avx512"), ("COMPATIBLE", "default"),
               (None, "default"), ("COMPATIBLE", None)]
    # The seven fits are separate processes: they run three at a time.
    pinned = FIT.format(first="import otcompanion")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        fits = [pool.submit(run, pinned, MKL_CBWR=mkl, ATEN_CPU_CAPABILITY=aten)
                for mkl, aten in outside]
        # The test can fail: without pinning, the default ATen path gives another fit.
        unpinned = pool.submit(run, FIT.format(first=""), ATEN_CPU_CAPABILITY="default",
                               OTCOMPANION_NATIVE_CPU="1")
        results = {fit.result().stdout for fit in fits}
        native = unpinned.result().stdout
    assert len(results) == 1
    assert native not in results


@needs_x86
def test_importing_torch_first_warns_once():
    code = ("import torch, warnings\nimport otcompanion\n"
            "from otcompanion import cpu_paths\nprint(cpu_paths.pin())")
    result = run(code, MKL_CBWR="COMPATIBLE")
    assert result.stderr.count("torch was imported before otcompanion") == 1
    assert "MKL_CBWR='COMPATIBLE'" in result.stderr
    assert result.stdout.strip() == "{}"  # the second call finds everything pinned
    quiet = run(code, MKL_CBWR="AVX2", ATEN_CPU_CAPABILITY="avx2")
    assert "torch was imported" not in quiet.stderr


@needs_x86
def test_the_opt_out_keeps_the_callers_settings():
    code = ("import os, otcompanion\n"
            "print(os.environ.get('MKL_CBWR'), os.environ.get('ATEN_CPU_CAPABILITY'))")
    assert run(code, OTCOMPANION_NATIVE_CPU="1", MKL_CBWR="AUTO").stdout.split() == ["AUTO", "None"]
    assert run(code, MKL_CBWR="AUTO").stdout.split() == ["AVX2", "avx2"]


def test_provenance_names_the_code_path_settings():
    table = provenance.provenance({}, 0.0).set_index("item")["value"]
    for name in (*cpu_paths.PINNED, cpu_paths.OPT_OUT):
        assert name in table.index
    if cpu_paths.applies():
        assert table["MKL_CBWR"] == "AVX2" and table["ATEN_CPU_CAPABILITY"] == "avx2"
