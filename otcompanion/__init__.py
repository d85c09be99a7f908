"""otcompanion: an executable companion to *Transformers for Tabular Data: A Training
Perspective of Self-Attention via Optimal Transport* (Quadrio & Candelieri, 2025).

Modules, one concern each: :mod:`otcompanion.data` (thesis data, loaders, splits,
standardization), :mod:`otcompanion.attention` (the thesis Transformer, its training and trace),
:mod:`otcompanion.metrics` (optimal-transport metrics), :mod:`otcompanion.ot_solvers` (the exact
and entropic OT solvers the metrics and the OT classifier share), :mod:`otcompanion.pretrain`
(head pretraining), :mod:`otcompanion.otclassifier` and :mod:`otcompanion.alignment` (the
dummy-Gaussian OT classifier), :mod:`otcompanion.multihead` (Deora et al.'s model family),
:mod:`otcompanion.experiments` (each chapter's runs), :mod:`otcompanion.engine` (where runs
execute, the run cache), :mod:`otcompanion.stats` (intervals and how the book writes them),
:mod:`otcompanion.claims` (verdict rules and the claims ledger), :mod:`otcompanion.plots` (the
book's figures), :mod:`otcompanion.chapter` and :mod:`otcompanion.prose` (what a chapter calls to
glue its results and the sentences built from them), :mod:`otcompanion.provenance` (what
produced a chapter's numbers), :mod:`otcompanion.cpu_paths` (the processor code paths pinned
for reproducible floats), :mod:`otcompanion.book`, :mod:`otcompanion.classroom` and
:mod:`otcompanion.cli` (running chapters, the classroom edition, building the book).

The two estimators are also available at the top level:
``otcompanion.DummyGaussianOTClassifier`` and ``otcompanion.TransformerClassifier``.
"""

import importlib

from otcompanion import cpu_paths

# Before anything imports torch: the same floats on every x86-64 machine (cpu_paths).
cpu_paths.pin()

__version__ = "0.1.0"

_LAZY = {"DummyGaussianOTClassifier": "otcompanion.otclassifier",
         "TransformerClassifier": "otcompanion.attention"}


def __getattr__(name):
    # Imported on first use, so that `import otcompanion` (e.g. for the CLI) does not load torch.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'otcompanion' has no attribute {name!r}")
