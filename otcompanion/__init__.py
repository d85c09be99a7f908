"""otcompanion: an executable companion to *Transformers for Tabular Data: A Training
Perspective of Self-Attention via Optimal Transport* (Quadrio & Candelieri, 2025).

Modules: :mod:`otcompanion.data` (thesis data, loaders, splits, standardization),
:mod:`otcompanion.attention` (the thesis Transformer, its training and trace),
:mod:`otcompanion.metrics` (optimal-transport metrics), :mod:`otcompanion.ot_solvers` (the exact
and entropic OT solvers the metrics and the OT classifier share), :mod:`otcompanion.pretrain`
(head pretraining), :mod:`otcompanion.otclassifier` (the dummy-Gaussian OT classifier),
:mod:`otcompanion.experiments` (repeated runs and cross-validation), :mod:`otcompanion.plots`
(the book's figures), :mod:`otcompanion.provenance` (what produced a chapter's numbers),
:mod:`otcompanion.book` and :mod:`otcompanion.cli` (running chapters and building the book).

The two estimators are also available at the top level:
``otcompanion.DummyGaussianOTClassifier`` and ``otcompanion.TransformerClassifier``.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {"DummyGaussianOTClassifier": "otcompanion.otclassifier",
         "TransformerClassifier": "otcompanion.attention"}


def __getattr__(name):
    # Imported on first use, so that `import otcompanion` (e.g. for the CLI) does not load torch.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'otcompanion' has no attribute {name!r}")
