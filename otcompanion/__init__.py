"""otcompanion: an executable companion to *Transformers for Tabular Data: A Training
Perspective of Self-Attention via Optimal Transport* (Quadrio & Candelieri, 2025).

Modules: :mod:`otcompanion.data` (thesis data, loaders, splits, standardization),
:mod:`otcompanion.plots` (the book's figures), :mod:`otcompanion.provenance` (what produced a
chapter's numbers), :mod:`otcompanion.book` and :mod:`otcompanion.cli` (running chapters and
building the book).
"""

__version__ = "0.1.0"
