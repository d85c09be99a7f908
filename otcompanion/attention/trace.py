"""What a traced training run records: the token trajectory and the attention, epoch by epoch.

:class:`~otcompanion.attention.ForwardTrace` is everything one forward pass of
:class:`~otcompanion.attention.ThesisTransformer` can report; :class:`~otcompanion.attention.Trace`
is the record of a whole run of :func:`~otcompanion.attention.train_transformer`, in inference mode
after every epoch: every block's output after attention + residual and after feed-forward +
residual, and the attention logits of every head (thesis, "Tracing"; Quadrio & Candelieri, 2025). It
is the material for the thesis's OT metrics (:mod:`otcompanion.metrics`) and for comparing attention
with a Sinkhorn plan (Sander et al., *Sinkformers*, AISTATS 2022).

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- M. E. Sander, P. Ablin, M. Blondel, G. Peyré. *Sinkformers: Transformers with Doubly
  Stochastic Attention*. AISTATS 2022. arXiv:2110.11773.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from .._validation import check_choice, check_int
from ..data import tokens_to_frame

#: Version of the file format of :meth:`~otcompanion.attention.Trace.save`;
#: :meth:`~otcompanion.attention.Trace.load` reads only this one.
TRACE_FORMAT_VERSION = 1

#: Where a trajectory starts (:meth:`~otcompanion.attention.Trace.trajectory_from`): at the
#: standardized inputs (this book) or after the first epoch (the thesis code's indexing).
TRAJECTORY_STARTS = ("input", "first_epoch")


class ForwardTrace(NamedTuple):
    """Everything a forward pass of :class:`ThesisTransformer` can report.

    Attributes
    ----------
    logits : Tensor of shape (B, T, n_classes)
        Token-wise class logits (softmax gives the probabilities).
    block_outputs : Tensor of shape (n_blocks, 2, B, T, d)
        ``[:, 0]`` after attention + residual, ``[:, 1]`` after feed-forward + residual (the
        block's output).
    attention : Tensor of shape (n_blocks, B, H, T, T), or None
        Row-stochastic attention weights per head (``None`` when the forward pass was asked
        for no attention). With the factored attention of :class:`MultiHeadSelfAttention`, a
        non-contiguous view of key-major memory.
    attention_logits : Tensor of shape (n_blocks, B, H, T, T), or None
        Pre-softmax scores ``Q K^T / sqrt(key_dim)`` per head (stored like ``attention``).
    """

    logits: torch.Tensor
    block_outputs: torch.Tensor
    attention: torch.Tensor | None
    attention_logits: torch.Tensor | None


def stack_in_memory_order(tensors):
    """``torch.stack(tensors)`` copied in the memory order the tensors share.

    ``torch.stack`` writes a contiguous result; for permuted views (the key-major attention of
    :class:`~otcompanion.attention.MultiHeadSelfAttention`) that is a slow strided copy. Stacking
    the tensors permuted to their memory order, then permuting the result back, is a plain copy with
    the same values and shape (the result is a permuted view).
    """
    first = tensors[0]
    order = sorted(range(first.ndim), key=first.stride, reverse=True)
    stacked = torch.stack([tensor.permute(order) for tensor in tensors])
    return stacked.permute(0, *(1 + order.index(dim) for dim in range(first.ndim)))


def _softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights


@dataclass
class Trace:
    """Token trajectory of a training run, recorded in inference mode (thesis, "Tracing").

    Epoch 0 is the untrained model; epoch ``e >= 1`` is the model after ``e`` epochs. The record
    stops at :attr:`best_epoch` (the weights early stopping restores).

    Attributes
    ----------
    inputs : ndarray of shape (n, T, d), float32
        The standardized training tokens the model saw (all training instances, including those
        held out for validation; see :attr:`is_validation`).
    labels : ndarray of shape (n,)
        Class label of every instance, as given in ``y_train``.
    block_outputs : ndarray of shape (best_epoch + 1, n_blocks, 2, n, T, d), float32
        For every epoch and block: ``[..., 0, ...]`` the output after attention + residual,
        ``[..., 1, ...]`` the output after feed-forward + residual (the block's output).
    attention_logits : ndarray of shape (n_snapshots, n_blocks, n, H, T, T), float32
        Pre-softmax scores ``Q K^T / sqrt(key_dim)`` per head at the epochs
        :attr:`attention_epochs` (``n_snapshots = 0`` when attention was not recorded). In
        inference mode the attention weights are exactly their row-wise softmax
        (:attr:`attention`), so only the logits are stored.
    attention_epochs : ndarray of shape (n_snapshots,), int
        Epochs at which attention was recorded: every ``attention_every``-th epoch from 0, plus
        :attr:`best_epoch`.
    is_validation : ndarray of shape (n,), bool
        Instances held out of the gradient steps for early stopping.
    best_epoch : int
        1-based epoch of the restored weights.
    """

    inputs: np.ndarray
    labels: np.ndarray
    block_outputs: np.ndarray
    attention_logits: np.ndarray
    attention_epochs: np.ndarray
    is_validation: np.ndarray
    best_epoch: int

    @property
    def epochs(self):
        """Epoch of every entry of :attr:`block_outputs`: ``0 .. best_epoch``."""
        return np.arange(len(self.block_outputs))

    @property
    def trajectory(self):
        """``[inputs, last block's output after epoch 1, …, after best_epoch]`` as one array of
        shape ``(best_epoch + 1, n, T, d)`` (thesis §3: the trajectory the OT metrics use)."""
        return np.concatenate([self.inputs[None], self.block_outputs[1:, -1, 1]])

    def trajectory_from(self, start="input"):
        """The trajectory with the start the thesis metrics should use.

        ``start="input"`` is :attr:`trajectory`: the standardized inputs, then the last block's
        output after epochs ``1 .. best_epoch``. ``start="first_epoch"`` is what the thesis's R
        code most likely measured: its tracing callback stored the output after keras epoch
        ``e`` (counted from 0) at list position ``e + 1`` (counted from 1), overwriting the
        inputs stored there, and it kept ``proj[1:best_epoch]`` with keras's 0-based
        ``best_epoch``. That is the output after epochs ``1 .. best_epoch - 1`` (1-based): it
        starts after the first epoch instead of at the inputs and ends one epoch before the
        restored weights (Quadrio & Candelieri, 2025, the tracing code of the experiments).

        Parameters
        ----------
        start : {"input", "first_epoch"}, default "input"

        Returns
        -------
        ndarray of shape (n_steps, n, T, d)

        Raises
        ------
        ValueError
            An unknown ``start``, or ``"first_epoch"`` with ``best_epoch < 3`` (fewer than two
            recorded steps; the thesis retried such fits).
        """
        start = check_choice(start, "start", TRAJECTORY_STARTS)
        if start == "input":
            return self.trajectory
        if self.best_epoch < 3:
            raise ValueError(f"start='first_epoch' needs best_epoch >= 3 (two recorded steps "
                             f"after the first epoch), got best_epoch={self.best_epoch}.")
        return self.block_outputs[1:self.best_epoch, -1, 1]

    def sublayer_outputs(self, epoch=None):
        """``(name, tokens)`` for the input and every sublayer's output at ``epoch``.

        The stages are the standardized inputs, then per block the output after attention +
        residual and after feed-forward + residual, each of shape ``(n, T, d)``.

        Parameters
        ----------
        epoch : int, optional
            ``0 .. best_epoch``; default :attr:`best_epoch`.
        """
        epoch = self.best_epoch if epoch is None else check_int(epoch, "epoch", 0,
                                                                 len(self.block_outputs) - 1)
        outputs = self.block_outputs[epoch]  # (n_blocks, 2, n, T, d)
        stages = [("input", self.inputs)]
        for b in range(outputs.shape[0]):
            stages += [(f"block {b + 1} attention", outputs[b, 0]),
                       (f"block {b + 1} feed-forward", outputs[b, 1])]
        return stages

    def sublayer_moves(self, epoch=None, decimals=3):
        """The displacements each sublayer adds to the tokens, counted.

        With ``d = 2`` features a LayerNorm has essentially two outputs, so every sublayer of
        the thesis's block adds one of two vectors to each token (chapter 01 of this book); this
        table shows how general that is.

        Parameters
        ----------
        epoch : int, optional
            Default :attr:`best_epoch`.
        decimals : int, default 3
            Displacements are rounded to this many decimals before counting.

        Returns
        -------
        pandas.DataFrame
            One row per sublayer: ``sublayer``, ``distinct moves`` (over all tokens),
            ``most distinct moves in one instance``, ``mean move length``.
        """
        decimals = check_int(decimals, "decimals", 0)
        stages = self.sublayer_outputs(epoch)
        rows = []
        for (_, before), (name, after) in zip(stages[:-1], stages[1:]):
            moves = np.round(after - before, decimals)  # (n, T, d)
            rows.append({
                "sublayer": name,
                "distinct moves": len(np.unique(moves.reshape(-1, moves.shape[-1]), axis=0)),
                "most distinct moves in one instance": max(
                    len(np.unique(instance, axis=0)) for instance in moves),
                "mean move length": float(np.linalg.norm(after - before, axis=-1).mean()),
            })
        return pd.DataFrame(rows)

    @property
    def attention(self):
        """Attention weights ``softmax(attention_logits)`` per row, float32, same shape as
        :attr:`attention_logits`. Computed on every access (as large as the logits)."""
        return _softmax(self.attention_logits.astype(np.float32))

    def attention_at(self, epoch):
        """Attention weights at one recorded epoch, shape ``(n_blocks, n, H, T, T)``."""
        hits = np.flatnonzero(self.attention_epochs == epoch)
        if not len(hits):
            raise ValueError(f"attention was not recorded at epoch {epoch}; recorded epochs are "
                             f"{self.attention_epochs.tolist()}.")
        return _softmax(self.attention_logits[hits[0]])

    def trajectory_frame(self, feature_names=None):
        """The trajectory as a tidy DataFrame: one row per (step, instance, token).

        Columns: ``step`` (0 = standardized inputs, ``e`` = after epoch ``e``), ``instance``,
        ``token``, ``label``, ``class``, ``validation`` and one column per feature (``x1``, …
        unless ``feature_names`` is given).
        """
        frames = []
        for step, tokens in enumerate(self.trajectory):
            frame = tokens_to_frame(tokens, feature_names=feature_names)
            frame.insert(0, "step", step)
            n_tokens = tokens.shape[1]
            frame.insert(3, "label", np.repeat(self.labels, n_tokens))
            frame.insert(4, "class", [f"class {label}" for label in frame["label"]])
            frame.insert(5, "validation", np.repeat(self.is_validation, n_tokens))
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def save(self, path):
        """Write the trace to one compressed ``.npz`` file (``.npz`` is appended if missing).

        Returns
        -------
        Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        labels = np.asarray(self.labels)
        if labels.dtype == object:
            labels = labels.astype(str)
        with open(path, "wb") as handle:
            np.savez_compressed(
                handle, format_version=np.int64(TRACE_FORMAT_VERSION), inputs=self.inputs,
                labels=labels, block_outputs=self.block_outputs,
                attention_logits=self.attention_logits, attention_epochs=self.attention_epochs,
                is_validation=self.is_validation, best_epoch=np.int64(self.best_epoch),
            )
        return path

    @classmethod
    def load(cls, path):
        """Read a trace written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no trace file at {path}")
        with np.load(path, allow_pickle=False) as stored:
            names = set(stored.files)
            expected = {"format_version", "inputs", "labels", "block_outputs",
                        "attention_logits", "attention_epochs", "is_validation", "best_epoch"}
            if not expected <= names:
                missing = sorted(expected - names)
                raise ValueError(f"{path} is not a Trace file: it lacks {missing}.")
            version = int(stored["format_version"])
            if version != TRACE_FORMAT_VERSION:
                raise ValueError(f"{path} has trace format {version}; this version of "
                                 f"otcompanion reads format {TRACE_FORMAT_VERSION}.")
            return cls(inputs=stored["inputs"], labels=stored["labels"],
                       block_outputs=stored["block_outputs"],
                       attention_logits=stored["attention_logits"],
                       attention_epochs=stored["attention_epochs"],
                       is_validation=stored["is_validation"],
                       best_epoch=int(stored["best_epoch"]))
