"""The thesis Transformer: model, training protocol and tracing of the token trajectory.

The model is the keras "Timeseries classification with a Transformer model" encoder that the
thesis used, with the classification head applied to every token (Quadrio & Candelieri, 2025).
Training follows the thesis protocol (token-wise cross-entropy, RMSprop, full batch, early
stopping restoring the best weights) except that validation data never comes from the test set
by default, and the model is trained and traced on the same standardized inputs (the thesis
code trained on raw and traced on standardized inputs; this module does not reproduce that
defect).

Tracing records, in inference mode after every epoch, every block's output after
attention+residual and after feed-forward+residual, and the attention logits of every head: the
material for the thesis's OT metrics and for comparing attention with a Sinkhorn plan
(Sander et al., *Sinkformers*, AISTATS 2022).

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- A. Vaswani et al. *Attention is all you need*. NeurIPS 2017 (multi-head attention).
- keras.io example "Timeseries classification with a Transformer model" (T. Ntakouris),
  the encoder block of the thesis; keras ``MultiHeadAttention``, ``LayerNormalization``,
  ``RMSprop`` and ``EarlyStopping`` for the defaults matched here.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import metadata_routing
from torch import nn
from torch.nn import functional as F

from ._training import (EarlyStopping, check_training_data, encode_labels, resolve_device,
                        resolve_validation, torch_session, train_epochs)
from ._validation import (check_bool, check_choice, check_fraction, check_int,
                          check_positive, check_real)
from .data import TokenStandardizer, check_tokens, tokens_to_frame

#: Columns of :attr:`TransformerFit.history`.
HISTORY_COLUMNS = ["epoch", "train_loss", "train_token_accuracy", "train_instance_accuracy",
                   "val_loss", "val_token_accuracy", "val_instance_accuracy"]

LAYER_NORM_EPS = 1e-6  # keras LayerNormalization(epsilon=1e-6) in the thesis's encoder block
TRACE_FORMAT_VERSION = 1

#: Where a trajectory starts (:meth:`Trace.trajectory_from`): at the standardized inputs (this
#: book) or after the first epoch (the thesis code's indexing).
TRAJECTORY_STARTS = ("input", "first_epoch")
#: Optimizers :func:`train_transformer` can train with.
OPTIMIZERS = ("rmsprop", "adam", "sgd")


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

def _keras_glorot_(weight, fan_in, fan_out):
    """Glorot-uniform initialization with keras's fans:
    ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def _keras_dense(n_in, n_out):
    """A ``Linear`` initialized like a keras ``Dense``/``Conv1D(kernel_size=1)``: Glorot-uniform
    kernel, zero bias."""
    layer = nn.Linear(n_in, n_out)
    _keras_glorot_(layer.weight, n_in, n_out)
    nn.init.zeros_(layer.bias)
    return layer


#: PCG's 128-bit LCG multiplier and default increment (O'Neill, 2014, "PCG: A family of
#: simple fast space-efficient statistically good algorithms for random number generation").
#: :func:`dropout_noise` starts PCG64 at the state ``seed * _PCG_SPREAD mod 2**128``: an odd
#: multiplier is invertible modulo ``2**128``, so distinct seeds give distinct states.
_PCG_SPREAD = 0x2360ED051FC65DA44385DF649FCCF645
_PCG_INCREMENT = 0x5851F42D4C957F2D14057B7EF767814F
_PCG = np.random.PCG64()


def dropout_noise(shape, p, device, dtype=torch.float32):
    """The multiplier of inverted dropout: ``keep / (1 - p)`` with ``keep ~ Bernoulli(1 - p)``.

    On the CPU the mask comes from NumPy's PCG64 generator started at a state given by one
    63-bit draw from torch's generator (so :func:`torch.manual_seed` still fixes it; the
    state is the draw times an odd 128-bit constant: NumPy's ``SeedSequence`` seeding took
    about a quarter of the time of a small mask such as ``(36, 20, 2)``,
    ``benchmarks/training_parts.py``): the generator's raw 64-bit output, read as 16-bit
    uniform integers ``u`` in C order of ``shape``, keeps an element when
    ``u >= round(65536 p)``, a drop probability of ``round(65536 p) / 65536``
    (0.1000061 for ``p = 0.1``). It draws the attention mask of a thesis-size batch
    (36 x 20 x 10 x 20) in about a sixth of the time of ``torch.nn.functional.dropout``'s
    per-element Bernoulli draws (``benchmarks/transformer_speed.py``). On CUDA the mask is
    ``torch.rand(shape) >= p`` on the device.

    Parameters
    ----------
    shape : tuple of int
    p : float in [0, 1)
    device : torch.device
    dtype : torch.dtype, default float32

    Returns
    -------
    Tensor of ``shape``, contiguous
    """
    scale = 1.0 / (1.0 - p)
    if torch.device(device).type != "cpu":
        return (torch.rand(shape, device=device) >= p).to(dtype).mul_(scale)
    size = math.prod(shape)
    seed = int(torch.randint(0, 2 ** 63 - 1, (1,)))
    state = {"state": seed * _PCG_SPREAD % 2 ** 128, "inc": _PCG_INCREMENT}
    with _PCG.lock:  # one shared generator: set its state and draw without interruption
        _PCG.state = {"bit_generator": "PCG64", "state": state, "has_uint32": 0, "uinteger": 0}
        bits = _PCG.random_raw((size + 3) // 4).view(np.uint16)[:size]
    keep = (bits >= round(65536 * p)).astype(np.float32)
    keep *= np.float32(scale)
    return torch.from_numpy(keep).view(shape).to(dtype)


class Dropout(nn.Module):
    """Inverted dropout (Srivastava et al., 2014) with the masks of :func:`dropout_noise`.

    In training mode ``x * dropout_noise(x.shape, p)``, in inference mode ``x``.
    """

    def __init__(self, p):
        super().__init__()
        self.p = check_real(p, "dropout", 0.0, 1.0, high_open=True)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return x * dropout_noise(x.shape, self.p, x.device, x.dtype)

    def extra_repr(self):
        return f"p={self.p}"


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with keras ``MultiHeadAttention``'s parametrization.

    For ``H`` heads of width ``k = key_dim``, with ``Q_h = x W^Q_h + b^Q_h`` (and likewise
    ``K_h``, ``V_h``), each of width ``k``,

    .. math::
        S_h = \\frac{Q_h K_h^\\top}{\\sqrt{k}}, \\qquad
        A_h = \\operatorname{softmax}_{\\text{row}}(S_h),
        \\qquad \\operatorname{MHA}(x) = \\big[\\operatorname{Dropout}(A_1) V_1, \\dots,
        \\operatorname{Dropout}(A_H) V_H\\big] W^O + b^O

    (Vaswani et al. 2017, §3.2). The internal width is ``H * k`` (160 in the thesis), not the
    token dimension ``d``; the output projection maps back to ``d``. Dropout acts on the
    attention weights, as in keras. Kernels are Glorot-uniform with the fans keras computes for
    its ``EinsumDense`` kernels of shape ``(d, H, k)`` and ``(H, k, d)``; biases start at zero.

    **Factored computation for few features.** With the augmented tokens
    ``x~ = [x, 1]`` (width ``d + 1``), the augmented kernels ``W~^Q_h = [W^Q_h; b^Q_h]`` (likewise
    ``W~^K_h``, ``W~^V_h``; each ``(d + 1) x k``) and ``W^O_h``, the ``k`` rows of ``W^O`` that
    belong to head ``h``, the same function is

    .. math::
        S_h = \\tilde x M_h \\tilde x^\\top, \\quad
        M_h = \\frac{\\tilde W^Q_h (\\tilde W^K_h)^\\top}{\\sqrt{k}}, \\qquad
        \\operatorname{MHA}(x) = \\sum_{h=1}^H \\operatorname{Dropout}(A_h)\\,
        \\tilde x N_h + b^O, \\quad N_h = \\tilde W^V_h W^O_h:

    every head's scores are a bilinear form in the augmented tokens with a ``(d + 1) x (d + 1)``
    matrix ``M_h``, and its value-output path is the ``(d + 1) x d`` map ``N_h`` (the
    associativity of the products in Vaswani et al. 2017, §3.2). When ``d + 1 < k`` (the
    thesis model, Quadrio & Candelieri 2025, arXiv:2512.09530: ``d = 2``, ``k = 16``,
    ``H = 10``), :meth:`forward` computes ``M`` and ``N`` from ``query``, ``key``, ``value`` and
    ``output`` in every call (so the same parameters are trained) and replaces the
    width-``H k`` projections by width-``d + 1`` products. Scores are kept key-major,
    ``(B, T_key, H, T_query)``: the softmax then reduces over an outer axis (vectorized across
    heads and queries) and the sum over heads and keys of the value path is one batched
    product. Both computations multiply the weights by the same dropout mask,
    :meth:`weight_noise`, drawn in the key-major layout, so both give the same results up to
    floating-point rounding.

    Its backward pass, down to the projections, is written out (:class:`_FactoredAttention`).
    Otherwise the direct computation above is used. On one CPU thread at the thesis size, the
    factored forward and backward pass of one attention layer in training mode (36 instances)
    takes about 0.4 of the direct one's time (0.97 ms against 2.5 ms) and its inference
    forward (45 instances) about a quarter (0.24 ms against 0.94 ms;
    ``benchmarks/training_parts.py``). With ``d + 1`` close to ``k`` the products shrink
    less, but the layer still took 0.5 to 0.6 of the direct time (``d = 8`` to ``14``,
    ``k = 16``, 10 heads). The two computations round differently; with ``d = 2`` the
    post-norm LayerNorm normalizes two numbers and amplifies such differences by orders of
    magnitude, so float32 training trajectories of the two part within a few epochs.

    Parameters
    ----------
    n_features : int
        Token dimension ``d``.
    n_heads : int
    key_dim : int
        Width of every head's queries, keys and values.
    dropout : float
        Dropout rate on the attention weights.

    Attributes
    ----------
    factored : bool
        Whether :meth:`forward` uses the factored computation
        (``n_features + 1 < key_dim``).
    """

    def __init__(self, n_features, n_heads, key_dim, dropout):
        super().__init__()
        self.n_heads, self.key_dim = n_heads, key_dim
        self.factored = n_features + 1 < key_dim
        width = n_heads * key_dim
        self.query = nn.Linear(n_features, width)
        self.key = nn.Linear(n_features, width)
        self.value = nn.Linear(n_features, width)
        self.output = nn.Linear(width, n_features)
        for layer in (self.query, self.key, self.value):
            # keras kernel (d, H, k): fan_in = H d, fan_out = k d
            _keras_glorot_(layer.weight, n_heads * n_features, key_dim * n_features)
            nn.init.zeros_(layer.bias)
        # keras kernel (H, k, d): fan_in = k H, fan_out = d H
        _keras_glorot_(self.output.weight, key_dim * n_heads, n_features * n_heads)
        nn.init.zeros_(self.output.bias)
        self.dropout = Dropout(dropout)

    def weight_noise(self, batch, tokens, device, dtype=torch.float32):
        """The dropout multiplier of the attention weights, shape ``(B, H, T, T)``.

        One :func:`dropout_noise` draw of shape ``(B, T_key, H, T_query)`` (the key-major
        layout of the factored computation, which then uses it without a copy), returned as
        the permuted view indexed ``[b, h, t_query, t_key]``.
        """
        noise = dropout_noise((batch, tokens, self.n_heads, tokens), self.dropout.p, device,
                              dtype)
        return noise.permute(0, 2, 3, 1)

    def forward(self, x, attention=True):
        """Attend from ``x`` to itself.

        Parameters
        ----------
        x : Tensor of shape (B, T, d)
        attention : bool, default True
            Also return the attention weights and the pre-softmax scores. ``False`` returns
            ``None`` in their place and lets the factored computation leave the weights
            unnormalized in the scores' memory (the training loop and the trace without
            attention need neither).

        Returns
        -------
        out : Tensor of shape (B, T, d)
        weights : Tensor of shape (B, H, T, T), or None
            Row-stochastic attention weights (before dropout). In the factored computation a
            non-contiguous view of the key-major weights.
        logits : Tensor of shape (B, H, T, T), or None
            Pre-softmax scores ``Q K^T / sqrt(key_dim)`` (a view like ``weights``).
        """
        if self.factored:
            return self._factored(x, attention)
        return self._direct(x, attention)

    def _direct(self, x, attention=True):
        """``MHA(x)`` through the width-``H k`` projections (Vaswani et al. 2017, §3.2)."""
        batch, tokens, _ = x.shape
        heads, width = self.n_heads, self.key_dim

        def split(projected):  # (B, T, H k) -> (B, H, T, k)
            return projected.view(batch, tokens, heads, width).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        logits = q @ k.transpose(-1, -2) / math.sqrt(width)
        weights = torch.softmax(logits, dim=-1)
        dropped = weights
        if self.training and self.dropout.p > 0:
            dropped = weights * self.weight_noise(batch, tokens, x.device, x.dtype)
        context = dropped @ v  # (B, H, T, k)
        context = context.transpose(1, 2).reshape(batch, tokens, heads * width)
        if not attention:
            return self.output(context), None, None
        return self.output(context), weights, logits

    def _factored(self, x, attention=True):
        """``MHA(x)`` through the per-head matrices ``M_h`` and ``N_h`` (class docstring)."""
        batch, tokens, _ = x.shape
        noise = None
        if self.training and self.dropout.p > 0:
            # The mask of the direct computation, whose memory is key-major: a view, no copy
            # (the factored computation multiplies the exponentiated scores into it, in place).
            noise = self.weight_noise(batch, tokens, x.device, x.dtype)
            noise = noise.permute(0, 3, 1, 2).reshape(batch, tokens, self.n_heads * tokens)
        out, weights, logits = _FactoredAttention.apply(
            x, self.query.weight, self.query.bias, self.key.weight, self.key.bias,
            self.value.weight, self.value.bias, self.output.weight, self.output.bias, noise,
            self.n_heads, attention)
        if not attention:
            return out, None, None

        def query_major(scores):  # (B, T_key, H T_query) -> (B, H, T_query, T_key), a view
            return scores.view(batch, tokens, self.n_heads, tokens).permute(0, 2, 3, 1)

        return out, query_major(weights), query_major(logits)


#: The factored softmax leaves the scores unshifted while every sum over the keys of their
#: exponentials lies within a factor ``_EXP_RANGE`` of 1 (:func:`_softmax_parts`).
_EXP_RANGE = 2.0 ** 32


def _softmax_parts(logits, in_place=False):
    """``(E, r)`` with ``r * E`` the softmax over the keys of key-major scores ``(B, T, H T)``.

    ``E = exp(L)`` and ``r = 1 / sum_key E`` (shape ``(B, 1, H T)``) when every sum lies in
    ``[1 / _EXP_RANGE, _EXP_RANGE]``; otherwise ``E = exp(L - max_key L)``, the usual shift,
    which does not change the softmax. The window keeps the unnormalized products that the
    caller normalizes with ``r`` (``x~^T E`` in the forward pass, ``x~ (r dC)`` in the
    backward one) within a factor ``2**32`` of the shifted computation's: a sum near the
    float32 limit, from scores near 88, would let them overflow. Skipping the shift saves two
    of the five passes over the scores that ``exp(L - max) / sum`` takes; leaving the
    division to the caller (who applies ``r`` to a smaller product) saves a third.
    ``in_place`` computes ``E`` in the memory of ``logits``; when the shift is needed the
    scores are then lost and ``None`` is returned (call again with fresh scores, without
    ``in_place``).
    """
    exps = logits.exp_() if in_place else logits.exp()
    total = exps.sum(1, keepdim=True)
    low, high = torch.aminmax(total)
    if not (1.0 / _EXP_RANGE <= float(low) and float(high) <= _EXP_RANGE):
        if in_place:
            return None
        exps = (logits - logits.amax(1, keepdim=True)).exp_()
        total = exps.sum(1, keepdim=True)
    return exps, total.reciprocal_()


class _FactoredAttention(torch.autograd.Function):
    """The factored attention with a hand-written backward pass.

    Inputs: tokens ``x`` ``(B, T, d)``, the four projections of :class:`MultiHeadSelfAttention`
    (torch ``Linear`` layout: ``query`` ``(H k, d)``, its bias ``(H k,)``, likewise ``key`` and
    ``value``; ``output`` ``(d, H k)`` and its bias), the dropout multiplier ``D`` (key-major,
    ``(B, T_key, H T_query)``, or ``None``), ``H`` and whether to return the attention. With
    ``x~ = [x, 1]`` (width ``c = d + 1``), every head's kernels side by side,
    ``W_h = [W~^Q_h, W~^K_h, W~^V_h, W^O_h]`` (``k x (3 c + d)``; ``W~ = [W; b]``), and
    ``s = 1 / sqrt(k)``: the blocks of the Gram matrices ``G_h = W_h^T W_h`` are

    .. math::
        M_h^\\top = s\\, (\\tilde W^K_h)^\\top \\tilde W^Q_h, \\qquad
        N_h = (\\tilde W^V_h)^\\top W^O_h,

    and with the queries ``Q_{a, (h, t)} = (\\tilde x_t M_h)_a`` and the key-major scores
    ``L_{s, (h, t)} = \\tilde x_s \\cdot Q_{:, (h, t)}``,

    .. math::
        E = \\exp(L - \\ell), \\quad r = 1 / \\textstyle\\sum_{\\text{key}} E, \\qquad
        C = r \\odot \\tilde x^\\top (E \\odot D), \\qquad
        \\text{out}_t = \\textstyle\\sum_{(a, h)} C_{(a, h), t}\\, N_{(a, h)} + b^O,

    where ``ell`` is 0 unless a sum over the keys is far from 1 (then it is the maximum over
    the keys; :func:`_softmax_parts`). Normalizing after the product with the
    tokens (``r`` multiplies the ``(B, c, H T)`` result) saves a pass over the ``(B, T, H T)``
    scores.

    Returns ``(out, A, L)``; ``A`` and ``L`` (key-major, ``(B, T, H T)``) are outputs for the
    trace, not differentiable, and are ``None`` unless asked for. A dropout multiplier is
    overwritten with ``E * D``. The backward pass uses the softmax Jacobian in the form
    ``dL = dP * P - A * sum_key(dP * P)`` with ``P = A * D``, that is
    ``dL = Y - E * (r * sum_key Y)`` with ``Y = (x~ (r * dC)) * (E * D)`` and
    ``sum_key Y = sum_a dC_a * C_a`` (from the small ``C``, not the scores); the projections'
    gradients come from ``dW_h = W_h (dG_h + dG_h^T)`` in one product (autograd would record
    a dozen small operations per layer for ``M`` and ``N``). It skips the tokens' gradient
    when they need none (the first block's input). The equivalence tests compare it with
    autograd through the direct computation (``tests/test_attention_equivalence.py``) and with
    ``torch.autograd.gradcheck`` in float64.
    """

    @staticmethod
    def forward(ctx, x, query, query_bias, key, key_bias, value, value_bias, output,
                output_bias, noise, heads, attention):
        batch, tokens, d = x.shape
        c, width = d + 1, query.shape[0] // heads
        scale = 1.0 / math.sqrt(width)
        augmented = F.pad(x, (0, 1), value=1.0)  # x~, (B, T, c)
        kernels = torch.cat([query, query_bias[:, None], key, key_bias[:, None], value,
                             value_bias[:, None], output.t()], dim=1)
        kernels = kernels.view(heads, width, 3 * c + d)  # W_h
        gram = torch.bmm(kernels.transpose(1, 2), kernels)  # G_h
        # M_h^T laid out ((a, h), a') (key side a, query side a'); N_h laid out ((a, h), f)
        m = gram[:, c:2 * c, :c].transpose(0, 1).reshape(c * heads, c) * scale
        n = gram[:, 2 * c:3 * c, 3 * c:].transpose(0, 1).reshape(c * heads, d)
        # queries[b, (a, h), t] = (x~_t M_h)[a], read as (B, c, H T)
        queries = torch.matmul(m, augmented.transpose(1, 2)).view(batch, c, heads * tokens)
        # Key-major scores: logits[b, s, (h, t)] = x~_s . queries[b, :, (h, t)] = S_h[t, s]
        logits = torch.bmm(augmented, queries)
        parts = _softmax_parts(logits, in_place=not attention)
        if parts is None:  # they need the shift, and exp_ overwrote them: compute them again
            logits = torch.bmm(augmented, queries)
            parts = _softmax_parts(logits)
        exps, norm = parts
        # Every new tensor of the scores' size costs about as much as four passes over one
        # in the cache: the dropout mask becomes E * D, in place.
        dropped = exps if noise is None else noise.mul_(exps)
        # context[b, (a, h), t] = sum_s Dropout(A_h)[t, s] x~_s[a]
        context = torch.bmm(augmented.transpose(1, 2), dropped).mul_(norm)
        context = context.view(batch, c * heads, tokens)
        # out[b, t] = sum_h (Dropout(A_h) x~ N_h)[t] + b^O
        out = torch.matmul(context.transpose(1, 2), n).add_(output_bias)
        ctx.save_for_backward(augmented, kernels, m, n, queries, exps, dropped, norm, context)
        ctx.scale = scale
        ctx.set_materialize_grads(False)
        if not attention:
            return out, None, None
        weights = exps * norm
        ctx.mark_non_differentiable(weights, logits)
        return out, weights, logits

    @staticmethod
    def backward(ctx, grad_out, grad_weights, grad_logits):
        if grad_out is None:
            return (None,) * 12
        grad_out = grad_out.contiguous()  # an expanded one (from a sum) is slow in bmm
        augmented, kernels, m, n, queries, exps, dropped, norm, context = ctx.saved_tensors
        heads, width, size = kernels.shape
        batch, tokens, c = augmented.shape
        d = c - 1
        grad_bias = grad_out.sum((0, 1))
        grad_n = torch.bmm(context, grad_out).sum(0)  # ((a, h), f)
        # dC, laid out like the key-major product: (B, c, H T); then r * dC
        grad_context = torch.matmul(n, grad_out.transpose(1, 2)).view(batch, c, heads * tokens)
        # sum_key Y = sum_a dC[a] C[a] (C = r x~^T (E D)): no pass over the scores for it
        total = (grad_context * context.view(batch, c, heads * tokens)).sum(1, keepdim=True)
        grad_context.mul_(norm)
        need_x = ctx.needs_input_grad[0]
        if need_x:
            # The products with the scores that give x~'s gradient are taken transposed,
            # (c, H T) x (H T, T): torch's bmm is 3 to 4 times slower on (T, H T) x (H T, c)
            # (benchmarks/training_parts.py).
            grad_columns = torch.bmm(grad_context, dropped.transpose(1, 2))  # (B, c, T)
        # Softmax and dropout: dL = Y - E * (r * sum_key Y), Y = (x~ (r dC)) * (E D)
        grad_logits = torch.bmm(augmented, grad_context).mul_(dropped)
        grad_logits.addcmul_(exps, total.mul_(norm), value=-1)
        grad_queries = torch.bmm(augmented.transpose(1, 2), grad_logits)  # (B, c, H T)
        grad_queries = grad_queries.view(batch, c * heads, tokens)
        grad_x = None
        if need_x:
            grad_columns.baddbmm_(queries, grad_logits.transpose(1, 2))
            grad_augmented = torch.matmul(grad_queries.transpose(1, 2), m)
            grad_augmented += grad_columns.transpose(1, 2)
            grad_x = grad_augmented[..., :d]
        grad_m = torch.bmm(grad_queries, augmented).sum(0).mul_(ctx.scale)  # ((a, h), a')
        # dG_h has two non-zero blocks; dW_h = W_h (dG_h + dG_h^T)
        grad_gram = kernels.new_zeros(heads, size, size)
        grad_gram[:, c:2 * c, :c] = grad_m.view(c, heads, c).transpose(0, 1)
        grad_gram[:, 2 * c:3 * c, 3 * c:] = grad_n.view(c, heads, d).transpose(0, 1)
        grad_kernels = torch.bmm(kernels, grad_gram + grad_gram.transpose(1, 2))
        grad_kernels = grad_kernels.view(heads * width, size)
        return (grad_x, grad_kernels[:, :d], grad_kernels[:, d],
                grad_kernels[:, c:c + d], grad_kernels[:, c + d],
                grad_kernels[:, 2 * c:2 * c + d], grad_kernels[:, 2 * c + d],
                grad_kernels[:, 3 * c:].t(), grad_bias, None, None, None)


class EncoderBlock(nn.Module):
    """The thesis's encoder block (keras example, post-norm inside the residual branch).

    .. math::
        r = \\operatorname{LN}(\\operatorname{Dropout}(\\operatorname{MHA}(x))) + x, \\qquad
        y = \\operatorname{LN}\\big(W_2\\,\\operatorname{Dropout}(\\operatorname{ReLU}(W_1 r + b_1))
        + b_2\\big) + r

    with LayerNorm ``eps = 1e-6`` applied *before* the residual addition (as in the keras
    example). The keras block's ``Conv1D(kernel_size=1)`` layers are per-token linear maps,
    implemented as ``Linear`` layers ``ff_in`` (``d -> ff_dim``) and ``ff_out`` (``ff_dim -> d``).
    """

    def __init__(self, n_features, n_heads, key_dim, ff_dim, dropout):
        super().__init__()
        self.attention = MultiHeadSelfAttention(n_features, n_heads, key_dim, dropout)
        self.attention_dropout = Dropout(dropout)
        self.attention_norm = nn.LayerNorm(n_features, eps=LAYER_NORM_EPS)
        self.ff_in = _keras_dense(n_features, ff_dim)
        self.ff_dropout = Dropout(dropout)
        self.ff_out = _keras_dense(ff_dim, n_features)
        self.ff_norm = nn.LayerNorm(n_features, eps=LAYER_NORM_EPS)

    def forward(self, x, attention=True):
        """Returns ``(out, residual, weights, logits)``: the block output after feed-forward +
        residual, the intermediate output after attention + residual, and the attention weights
        and logits of :class:`MultiHeadSelfAttention` (``None`` without ``attention``, as in
        its ``forward``)."""
        attended, weights, logits = self.attention(x, attention)
        residual = self.attention_norm(self.attention_dropout(attended)) + x
        hidden = self.ff_out(self.ff_dropout(F.relu(self.ff_in(residual))))
        out = self.ff_norm(hidden) + residual
        return out, residual, weights, logits


def _stack(tensors):
    """``torch.stack(tensors)`` copied in the memory order the tensors share.

    ``torch.stack`` writes a contiguous result; for permuted views (the key-major attention
    of :class:`MultiHeadSelfAttention`) that is a slow strided copy. Stacking the tensors
    permuted to their memory order, then permuting the result back, is a plain copy with the
    same values and shape (the result is a permuted view).
    """
    first = tensors[0]
    order = sorted(range(first.ndim), key=first.stride, reverse=True)
    stacked = torch.stack([tensor.permute(order) for tensor in tensors])
    return stacked.permute(0, *(1 + order.index(dim) for dim in range(first.ndim)))


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


class ThesisTransformer(nn.Module):
    """Transformer encoder with a per-token classification head (thesis configuration).

    ``n_blocks`` :class:`EncoderBlock` s followed by a head applied to every token:
    ``Dense(8, ReLU) -> Dropout(0.4) -> Dense(k)`` in the thesis (Quadrio & Candelieri, 2025).
    The head is the submodule :attr:`head` so that it can be pretrained, loaded and frozen on
    its own (thesis's MLP pretraining). Softmax is left to the loss and to :meth:`predict_proba`.

    Parameters
    ----------
    n_features : int
        Token dimension ``d`` (thesis: 2).
    n_classes : int
        Number of classes ``k`` (at least 2).
    n_blocks : int, default 2
    n_heads : int, default 10
    key_dim : int, default 16
        Width of each head; the attention's internal width is ``n_heads * key_dim``.
    ff_dim : int, default 32
        Hidden width of the per-token feed-forward part.
    head_units : sequence of int, default (8,)
        Hidden layer widths of the head (each ReLU, then dropout); ``()`` gives a linear head.
    dropout : float in [0, 1), default 0.1
        Dropout of the encoder blocks (attention weights, attention output, feed-forward).
    head_dropout : float in [0, 1), default 0.4
        Dropout after each hidden layer of the head.

    Attributes
    ----------
    blocks : nn.ModuleList of EncoderBlock
    head : nn.Sequential
    config : dict
        The constructor arguments (to rebuild the model).
    """

    def __init__(self, n_features, n_classes, n_blocks=2, n_heads=10, key_dim=16, ff_dim=32,
                 head_units=(8,), dropout=0.1, head_dropout=0.4):
        super().__init__()
        n_features = check_int(n_features, "n_features", 1)
        n_classes = check_int(n_classes, "n_classes", 2)
        n_blocks = check_int(n_blocks, "n_blocks", 1)
        n_heads = check_int(n_heads, "n_heads", 1)
        key_dim = check_int(key_dim, "key_dim", 1)
        ff_dim = check_int(ff_dim, "ff_dim", 1)
        if isinstance(head_units, (int, np.integer)) and not isinstance(head_units, bool):
            head_units = (head_units,)
        try:
            head_units = tuple(head_units)
        except TypeError:
            raise TypeError(f"head_units must be a sequence of positive integers, got "
                            f"{head_units!r}.") from None
        head_units = tuple(check_int(u, f"head_units[{i}]", 1) for i, u in enumerate(head_units))
        dropout = check_fraction(dropout, "dropout", allow_zero=True)
        head_dropout = check_fraction(head_dropout, "head_dropout", allow_zero=True)
        self.config = dict(n_features=n_features, n_classes=n_classes, n_blocks=n_blocks,
                           n_heads=n_heads, key_dim=key_dim, ff_dim=ff_dim,
                           head_units=head_units, dropout=dropout, head_dropout=head_dropout)
        self.n_features, self.n_classes = n_features, n_classes
        self.n_blocks, self.n_heads, self.key_dim = n_blocks, n_heads, key_dim
        self.blocks = nn.ModuleList(
            EncoderBlock(n_features, n_heads, key_dim, ff_dim, dropout) for _ in range(n_blocks)
        )
        layers, width = [], n_features
        for units in head_units:
            layers += [_keras_dense(width, units), nn.ReLU(), Dropout(head_dropout)]
            width = units
        layers.append(_keras_dense(width, n_classes))
        self.head = nn.Sequential(*layers)

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (batch, tokens, "
                            f"{self.n_features}), got {type(x).__name__}.")
        if x.ndim != 3 or x.shape[-1] != self.n_features or 0 in x.shape:
            raise ValueError(f"x must have shape (batch, tokens, {self.n_features}), got "
                             f"{tuple(x.shape)}.")

    def encode(self, x):
        """The last block's output, shape ``(B, T, d)``: the tokens the head classifies."""
        self._check_input(x)
        for block in self.blocks:
            x = block(x, attention=False)[0]
        return x

    def forward(self, x, return_trace=False, attention=True):
        """Token-wise class logits, optionally with every block's intermediate results.

        Parameters
        ----------
        x : Tensor of shape (B, T, d)
        return_trace : bool, default False
        attention : bool, default True
            With ``return_trace``, also return the attention weights and logits of every
            block. ``False`` leaves :attr:`ForwardTrace.attention` and
            :attr:`ForwardTrace.attention_logits` as ``None`` and skips copying them (two
            ``(n_blocks, B, H, T, T)`` tensors), for traces that record block outputs only.

        Returns
        -------
        Tensor of shape (B, T, n_classes), or a :class:`ForwardTrace` when ``return_trace``.
        """
        self._check_input(x)
        if not return_trace:
            return self.head(self.encode(x))
        outputs, weights, scores = [], [], []
        for block in self.blocks:
            x, residual, block_weights, block_logits = block(x, attention)
            outputs += [residual, x]
            weights.append(block_weights)
            scores.append(block_logits)
        block_outputs = torch.stack(outputs).view(self.n_blocks, 2, *x.shape)
        if not attention:
            return ForwardTrace(self.head(x), block_outputs, None, None)
        return ForwardTrace(self.head(x), block_outputs, _stack(weights), _stack(scores))

    def trace(self, x, attention=True):
        """Shorthand for ``forward(x, return_trace=True, attention=attention)``
        (:class:`ForwardTrace`)."""
        return self.forward(x, return_trace=True, attention=attention)

    @torch.no_grad()
    def predict_proba(self, x):
        """Token-wise class probabilities ``softmax(logits)``, shape ``(B, T, n_classes)``,
        in inference mode (the module's mode is restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.forward(x), dim=-1)
        finally:
            self.train(was_training)


class KerasRMSprop:
    """RMSprop exactly as keras implements it (no momentum, not centered).

    .. math::
        v \\leftarrow \\rho v + (1 - \\rho) g^2, \\qquad
        \\theta \\leftarrow \\theta - \\frac{\\eta\\, g}{\\sqrt{v + \\epsilon}}

    with keras's defaults ``rho = 0.9``, ``epsilon = 1e-7`` (keras ``RMSprop``; the thesis used
    it with ``learning_rate = 1e-2``). ``torch.optim.RMSprop`` differs in its defaults
    (``alpha = 0.99``, ``eps = 1e-8``) *and* adds ``eps`` outside the square root, which matters
    for parameters with gradients below about ``1e-3``; hence this small class.

    It has the two methods of a ``torch.optim.Optimizer`` that a training loop calls,
    :meth:`zero_grad` and :meth:`step`. It is not an ``Optimizer`` subclass: constructing one
    imports ``torch._dynamo`` (about 1.5 s, once per process), longer than a thesis-size fit.

    **One flat buffer.** The constructor moves the parameters into one flat tensor (every
    parameter's ``data`` becomes a view of it) and their gradients into another (every
    ``grad`` a view, which backpropagation accumulates into in place), so that a step is five
    operations on one tensor however many parameters there are: at the thesis size (3,906
    numbers in 36 tensors) about an eighth of the time of per-tensor updates
    (``torch._foreach_*`` loops over the tensors on the CPU;
    ``benchmarks/training_parts.py``). Gradients are therefore never ``None``:
    :meth:`zero_grad` zeroes them, and a parameter that took no part in a step gets a zero
    gradient (its ``v`` decays by ``rho``; keras would skip it). A gradient or a
    ``data`` tensor replaced from outside (``model.zero_grad()`` sets gradients to ``None``,
    ``p.data = ...``) is copied back into the buffer by the next :meth:`step`.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to train (with ``requires_grad``), all of one dtype and on one device;
        at least one.
    lr : float > 0, default 1e-3
    rho : float in [0, 1), default 0.9
    eps : float > 0, default 1e-7

    Attributes
    ----------
    params : list of Tensor
    velocity : Tensor
        ``v`` of all parameters, flat in the order of :attr:`params` (zeros before the first
        step).
    """

    def __init__(self, params, lr=1e-3, rho=0.9, eps=1e-7):
        self.lr = check_positive(lr, "lr")
        self.rho = check_fraction(rho, "rho", allow_zero=True)
        self.eps = check_positive(eps, "eps")
        if isinstance(params, torch.Tensor):
            raise TypeError("params must be an iterable of tensors, got one tensor.")
        self.params = list(params)
        if not self.params or not all(isinstance(q, torch.Tensor) for q in self.params):
            raise ValueError("params must be a non-empty iterable of tensors.")
        kinds = {(q.dtype, q.device) for q in self.params}
        if len(kinds) > 1:
            raise ValueError(f"params must share one dtype and device, got "
                             f"{sorted(str(kind) for kind in kinds)}.")
        with torch.no_grad():
            self._flat = torch.cat([q.detach().reshape(-1) for q in self.params])
        self._flat_grad = torch.zeros_like(self._flat)
        self._data, self._grads, offset = [], [], 0
        for q in self.params:
            data = self._flat[offset:offset + q.numel()].view_as(q)
            grad = self._flat_grad[offset:offset + q.numel()].view_as(q)
            if q.grad is not None:
                grad.copy_(q.grad)
            q.data, q.grad = data, grad
            self._data.append(data)
            self._grads.append(grad)
            offset += q.numel()
        self.velocity = torch.zeros_like(self._flat)

    def zero_grad(self, set_to_none=True):
        """Set every gradient to zero (one fill of the flat gradient buffer).

        ``set_to_none`` is accepted for the signature of ``torch.optim.Optimizer.zero_grad``
        and has no effect: the gradients are views of one buffer and are zeroed, never set to
        ``None``.
        """
        self._reattach()
        self._flat_grad.zero_()

    def _reattach(self):
        """Copy gradients and data replaced from outside back into the flat buffers."""
        for q, data, grad in zip(self.params, self._data, self._grads):
            if q.data_ptr() != data.data_ptr():
                data.copy_(q.data)
                q.data = data
            if q.grad is not grad:
                if q.grad is None:
                    grad.zero_()
                else:
                    grad.copy_(q.grad)
                q.grad = grad

    @torch.no_grad()
    def step(self):
        """One update of every parameter."""
        self._reattach()
        g = self._flat_grad
        self.velocity.mul_(self.rho).addcmul_(g, g, value=1 - self.rho)
        self._flat.addcdiv_(g, self.velocity.add(self.eps).sqrt_(), value=-self.lr)


# --------------------------------------------------------------------------------------------
# Trace
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

def _token_loss(logits, codes):
    """Mean token-wise cross-entropy with the instance label broadcast to every token."""
    n_tokens = logits.shape[1]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                           codes.repeat_interleave(n_tokens))


def _scores(logits, codes, loss=True):
    """Loss, token accuracy, instance accuracy and instance predictions from token logits.

    The instance prediction is the argmax of the mean of its tokens' probabilities (thesis §3).
    The probabilities are ``exp(z - max z) / sum exp(z - max z)`` written out: torch's
    ``softmax`` over a last dimension of two or three classes takes about 2.5 times as long.
    Without ``loss`` the loss is ``None`` (not computed).
    """
    value = float(_token_loss(logits, codes)) if loss else None
    token_accuracy = float((logits.argmax(-1) == codes[:, None]).float().mean())
    exps = (logits - logits.amax(-1, keepdim=True)).exp_()
    predictions = exps.div_(exps.sum(-1, keepdim=True)).mean(dim=1).argmax(-1)
    instance_accuracy = float((predictions == codes).float().mean())
    return value, token_accuracy, instance_accuracy, predictions


@dataclass
class TransformerFit:
    """Result of :func:`train_transformer`.

    Attributes
    ----------
    model : ThesisTransformer
        With the restored best weights, in eval mode.
    standardizer : TokenStandardizer
        Fitted on the training tokens; every input of the model goes through it.
    history : DataFrame
        One row per epoch run: ``epoch`` (1-based), ``train_loss``, ``train_token_accuracy``,
        ``train_instance_accuracy`` (keras convention: training mode, from the forward pass of
        the epoch's gradient step, i.e. before the update), ``val_loss``,
        ``val_token_accuracy``, ``val_instance_accuracy`` (inference mode, after the update;
        NaN without validation data).
    best_epoch : int
        1-based epoch of the restored weights (lowest validation loss; the last epoch without
        validation data).
    fit_seconds : float
        Wall-clock time of model construction, training, evaluation and tracing.
    trace : Trace or None
    test_metrics : dict or None
        On the test set, with the restored weights: ``loss``, ``token_accuracy``,
        ``instance_accuracy`` and ``recall_<class>`` (instance-level recall of every class).
    classes : ndarray
        The sorted class labels; model output ``j`` is ``classes[j]``.
    validation : str
        Where validation data came from: ``"split"``, ``"test"``, ``"given"`` or ``"none"``.
    validation_indices : ndarray or None
        Indices into ``X_train`` of the held-out validation instances (``"split"`` only).
    params : dict
        The training settings.
    """

    model: ThesisTransformer
    standardizer: TokenStandardizer
    history: pd.DataFrame
    best_epoch: int
    fit_seconds: float
    trace: Trace | None
    test_metrics: dict | None
    classes: np.ndarray
    validation: str
    validation_indices: np.ndarray | None
    params: dict = field(default_factory=dict)

    def _tensor(self, X, name):
        tokens = check_tokens(X, name)
        standardized = self.standardizer.transform(tokens)
        device = next(self.model.parameters()).device
        return torch.as_tensor(standardized, dtype=torch.float32, device=device)

    def predict_proba(self, X):
        """Token-wise class probabilities for raw (unstandardized) tokens, shape
        ``(n, T, n_classes)``."""
        return self.model.predict_proba(self._tensor(X, "X")).cpu().numpy()

    def predict(self, X):
        """Instance classes: argmax of the mean of the token probabilities (thesis §3)."""
        return self.classes[self.predict_proba(X).mean(axis=1).argmax(axis=1)]

    def evaluate(self, X, y):
        """Metrics of the model on raw tokens ``X`` with labels ``y``: ``loss``,
        ``token_accuracy``, ``instance_accuracy`` and ``recall_<class>`` per class."""
        tokens = check_tokens(X, "X")
        codes = encode_labels(y, self.classes, "y", len(tokens))
        return _evaluate(self.model, self._tensor(tokens, "X"),
                         torch.as_tensor(codes, device=next(self.model.parameters()).device),
                         self.classes)


def _evaluate(model, inputs, codes, classes):
    model.eval()
    with torch.no_grad():
        loss, token_accuracy, instance_accuracy, predictions = _scores(model(inputs), codes)
    metrics = dict(loss=loss, token_accuracy=token_accuracy, instance_accuracy=instance_accuracy)
    predictions, codes = predictions.cpu().numpy(), codes.cpu().numpy()
    for j, label in enumerate(classes):
        members = codes == j
        metrics[f"recall_{label}"] = (float((predictions[members] == j).mean()) if members.any()
                                      else float("nan"))
    return metrics


def train_transformer(X_train, y_train, X_test=None, y_test=None, *, n_blocks=2, n_heads=10,
                      key_dim=16, ff_dim=32, head_units=(8,), dropout=0.1, head_dropout=0.4,
                      epochs=200, lr=1e-2, seed=0, patience=None, validation=0.2,
                      device="cpu", n_threads=1, trace=True, attention_every=5, model=None,
                      per_token_standardization=False, optimizer="rmsprop"):
    """Train the thesis Transformer with the thesis protocol and trace the token trajectory.

    Protocol (Quadrio & Candelieri, 2025, §3): inputs standardized per feature with statistics
    of the training tokens (training *and* tracing use the standardized inputs); token-wise
    cross-entropy with the instance label broadcast to every token; keras RMSprop
    (:class:`KerasRMSprop`: ``rho = 0.9``, ``epsilon = 1e-7``) with learning rate ``lr``; full
    batch, no shuffling; early stopping on the validation loss (keras ``EarlyStopping``: an epoch
    improves when its loss is strictly lower than the best so far; training stops after
    ``patience`` epochs without improvement) and the best weights restored. The loop is the
    package's one training core (:func:`otcompanion._training.train_epochs`). After every
    epoch one inference-mode pass over all training instances records the trace and gives the
    validation scores of the held-out ones.

    Parameters
    ----------
    X_train : array-like of shape (n, T, d) or (n, d)
    y_train : array-like of shape (n,)
        At least two classes.
    X_test, y_test : optional
        Test data, used only for :attr:`TransformerFit.test_metrics` after training (and for
        validation only with ``validation="test"``).
    n_blocks, n_heads, key_dim, ff_dim, head_units, dropout, head_dropout
        Architecture, see :class:`ThesisTransformer`. Ignored when ``model`` is given.
    epochs : int, default 200
    lr : float, default 1e-2
    optimizer : {"rmsprop", "adam", "sgd"}, default "rmsprop"
        ``"rmsprop"`` is the thesis's keras RMSprop (:class:`KerasRMSprop`); ``"adam"`` is
        ``torch.optim.Adam`` with keras's defaults (``betas=(0.9, 0.999)``, ``eps=1e-7``;
        Kingma & Ba, 2015) and ``"sgd"`` plain gradient descent (``torch.optim.SGD``), both for
        the optimizer ablation of chapter 02.
    seed : int, default 0
        Seeds the weight initialization, the dropout masks and the validation split. Torch's
        global random state is saved and restored around the fit, so a fit does not disturb
        (and is not disturbed by) other random draws.
    patience : int, optional
        Early-stopping patience; default ``epochs`` (never stop early, but restore the best
        weights), as in the thesis.
    validation : float in (0, 1), "test", (X_val, y_val) or None, default 0.2
        Validation data for early stopping. A fraction holds out that share of the training
        instances (stratified by class, seeded by ``seed``, at least one instance of every
        class). The thesis validated on the test set, which lets test labels choose the model;
        ``"test"`` reproduces that for fidelity only. ``None``: no validation, no early stopping,
        the last epoch is kept.
    device : {"cpu", "cuda", "cuda:<index>"}, default "cpu"
        Results on CUDA are not bitwise reproducible across machines.
    n_threads : int, default 1
        Torch intra-op threads during the fit (restored afterwards). One thread is much faster
        for models this small and fixes the floating-point results.
    trace : bool, default True
        Record the :class:`Trace`.
    attention_every : int or None, default 5
        Record attention logits every this many epochs (from epoch 0) and at the best epoch;
        ``None`` or 0 records none. Attention takes ``n_blocks * n * H * T^2 * 4`` bytes per
        recorded epoch (1.4 MB at thesis size, 290 MB for all 200 epochs); every 5th epoch keeps
        a thesis-size trace near 60 MB. Use 1 for per-epoch attention curves.
    model : ThesisTransformer, optional
        A model to start from (e.g. with a pretrained, frozen head); it is copied, not modified.
        Only parameters with ``requires_grad`` are trained.
    per_token_standardization : bool, default False
        Passed to :class:`~otcompanion.data.TokenStandardizer` as ``per_token``.

    Returns
    -------
    TransformerFit
    """
    started = time.perf_counter()
    tokens, labels, classes, codes = check_training_data(X_train, y_train, "X_train", "y_train")
    n_classes, n_features = len(classes), tokens.shape[-1]

    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together.")
    test = None
    if X_test is not None:
        test_tokens = check_tokens(X_test, "X_test")
        if test_tokens.shape[-1] != n_features:
            raise ValueError(f"X_test has {test_tokens.shape[-1]} features per token, X_train "
                             f"has {n_features}.")
        test = (test_tokens, encode_labels(y_test, classes, "y_test", len(test_tokens),
                                           "X_test"))

    epochs = check_int(epochs, "epochs", 1)
    lr = check_positive(lr, "lr")
    optimizer_name = check_choice(optimizer, "optimizer", OPTIMIZERS)
    seed = check_int(seed, "seed", 0)
    n_threads = check_int(n_threads, "n_threads", 1)
    torch_device = resolve_device(device)
    trace = check_bool(trace, "trace")
    attention_every = check_int(attention_every or 0, "attention_every", 0)
    if model is not None:
        if not isinstance(model, ThesisTransformer):
            raise TypeError(f"model must be a ThesisTransformer, got {type(model).__name__}.")
        if model.n_features != n_features or model.n_classes != n_classes:
            raise ValueError(f"model has n_features={model.n_features}, "
                             f"n_classes={model.n_classes}; the data has {n_features} features "
                             f"and {n_classes} classes.")
    source, fit_index, val_index, val_data = resolve_validation(validation, tokens, codes,
                                                                classes, seed, test=test)
    if source == "none" and patience is not None:
        raise ValueError("patience needs validation data; validation=None trains for all "
                         "epochs and keeps the last one.")
    patience = check_int(epochs if patience is None else patience, "patience", 1)

    standardizer = TokenStandardizer(per_token=per_token_standardization).fit(tokens)
    standardized = standardizer.transform(tokens)

    def as_tensor(array, dtype=torch.float32):
        return torch.as_tensor(array, dtype=dtype, device=torch_device)

    inputs, all_codes = as_tensor(standardized), as_tensor(codes, torch.int64)
    if val_data is not None:
        val_inputs = as_tensor(standardizer.transform(val_data[0]))
        val_codes = as_tensor(val_data[1], torch.int64)
    elif val_index is not None:
        val_codes = all_codes[val_index]

    with torch_session(seed, n_threads, torch_device):
        if model is None:
            net = ThesisTransformer(n_features, n_classes, n_blocks=n_blocks, n_heads=n_heads,
                                    key_dim=key_dim, ff_dim=ff_dim, head_units=head_units,
                                    dropout=dropout, head_dropout=head_dropout)
        else:
            net = copy.deepcopy(model)
        net.to(torch_device)
        trainable = [p for p in net.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("model has no trainable parameters (all are frozen).")
        if optimizer_name == "rmsprop":
            optimizer = KerasRMSprop(trainable, lr=lr)
        elif optimizer_name == "adam":
            optimizer = torch.optim.Adam(trainable, lr=lr, betas=(0.9, 0.999), eps=1e-7)
        else:
            optimizer = torch.optim.SGD(trainable, lr=lr)
        block_record, attention_record = [], {}

        def record(epoch):
            """One inference pass over all training instances: the trace, and the logits of
            the held-out ones."""
            with_attention = bool(attention_every) and epoch % attention_every == 0
            out = net.trace(inputs, attention=with_attention)
            block_record.append(out.block_outputs.cpu().numpy())
            if with_attention:
                attention_record[epoch] = out.attention_logits.cpu().numpy()
            return out.logits

        def evaluate(epoch):
            logits = record(epoch) if trace else None
            if val_data is not None:
                logits = net(val_inputs)
            elif val_index is None:
                return {}
            elif logits is None:
                logits = net(inputs[val_index])
            else:
                logits = logits[val_index]
            loss, token_accuracy, instance_accuracy, _ = _scores(logits, val_codes)
            return dict(val_loss=loss, val_token_accuracy=token_accuracy,
                        val_instance_accuracy=instance_accuracy)

        def train_scores(logits, fit_codes):
            _, token_accuracy, instance_accuracy, _ = _scores(logits, fit_codes, loss=False)
            return dict(train_token_accuracy=token_accuracy,
                        train_instance_accuracy=instance_accuracy)

        if trace:
            net.eval()
            with torch.no_grad():
                record(0)
        rows, best_epoch = train_epochs(
            net, optimizer, _token_loss, inputs[fit_index], all_codes[fit_index], epochs,
            train_metrics=train_scores, evaluate=evaluate,
            stopping=None if source == "none" else EarlyStopping(patience), what="training")

        trace_result = None
        if trace:
            kept = {epoch: logits for epoch, logits in attention_record.items()
                    if epoch <= best_epoch}
            if attention_every and best_epoch not in kept:
                # The restored weights are those of best_epoch: record its attention now.
                with torch.no_grad():
                    kept[best_epoch] = net.trace(inputs).attention_logits.cpu().numpy()
            n, n_tokens = standardized.shape[:2]
            empty = (0, net.n_blocks, n, net.n_heads, n_tokens, n_tokens)
            is_validation = np.zeros(len(tokens), dtype=bool)
            if val_index is not None:
                is_validation[val_index] = True
            trace_result = Trace(
                inputs=standardized.astype(np.float32),
                labels=labels,
                block_outputs=np.stack(block_record[:best_epoch + 1]),
                attention_logits=(np.stack(list(kept.values())) if kept
                                  else np.zeros(empty, dtype=np.float32)),
                attention_epochs=np.asarray(list(kept), dtype=np.int64),
                is_validation=is_validation,
                best_epoch=int(best_epoch),
            )
        test_metrics = None
        if test is not None:
            test_metrics = _evaluate(net, as_tensor(standardizer.transform(test[0])),
                                     as_tensor(test[1], torch.int64), classes)

    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    params = dict(net.config, epochs=epochs, lr=lr, seed=seed, patience=patience,
                  validation=validation if not isinstance(validation, tuple) else "given",
                  device=str(torch_device), n_threads=n_threads, optimizer=optimizer_name,
                  attention_every=attention_every,
                  per_token_standardization=per_token_standardization,
                  pretrained_model=model is not None)
    return TransformerFit(
        model=net, standardizer=standardizer, history=history, best_epoch=int(best_epoch),
        fit_seconds=time.perf_counter() - started, trace=trace_result, test_metrics=test_metrics,
        classes=classes, validation=source, validation_indices=val_index, params=params,
    )


class TransformerClassifier(ClassifierMixin, BaseEstimator):
    """The thesis Transformer as a scikit-learn classifier of token arrays.

    A thin estimator around :func:`train_transformer` so that the Transformer can sit next to
    other classifiers in cross-validation loops: ``fit(X, y)`` trains with the thesis protocol
    (standardization with training statistics, keras RMSprop, full batch, early stopping on a
    seeded training-only validation split); ``predict_proba`` returns *instance* probabilities,
    the mean of the token probabilities (thesis §3), and ``predict`` their argmax.

    Parameters
    ----------
    n_blocks, n_heads, key_dim, ff_dim, head_units, dropout, head_dropout
        Architecture, see :class:`ThesisTransformer` (defaults: the thesis configuration).
    epochs, lr, patience, validation
        Training, see :func:`train_transformer`.
    per_token_standardization : bool, default False
        Standardize every token position separately (for tokens built from table columns).
    random_state : int, default 0
        The ``seed`` of :func:`train_transformer`.
    device : str, default "cpu"
    n_threads : int, default 1

    Attributes
    ----------
    fit_ : TransformerFit
        The result of :func:`train_transformer` (no trace is recorded).
    classes_ : ndarray
        The sorted class labels.
    n_features_in_ : int
        Features per token.
    """

    # score() takes no sample weights; declaring that keeps scikit-learn from generating a
    # set_score_request method whose docstring links into its own Sphinx docs (breaks -W).
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    def __init__(self, n_blocks=2, n_heads=10, key_dim=16, ff_dim=32, head_units=(8,),
                 dropout=0.1, head_dropout=0.4, epochs=200, lr=1e-2, patience=None,
                 validation=0.2, per_token_standardization=False, random_state=0,
                 device="cpu", n_threads=1):
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.key_dim = key_dim
        self.ff_dim = ff_dim
        self.head_units = head_units
        self.dropout = dropout
        self.head_dropout = head_dropout
        self.epochs = epochs
        self.lr = lr
        self.patience = patience
        self.validation = validation
        self.per_token_standardization = per_token_standardization
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def fit(self, X, y):
        """Train on token array ``X`` of shape (n, T, d) (or a table (n, d)) and labels ``y``."""
        self.fit_ = train_transformer(
            X, y, n_blocks=self.n_blocks, n_heads=self.n_heads, key_dim=self.key_dim,
            ff_dim=self.ff_dim, head_units=self.head_units, dropout=self.dropout,
            head_dropout=self.head_dropout, epochs=self.epochs, lr=self.lr,
            patience=self.patience, validation=self.validation,
            per_token_standardization=self.per_token_standardization,
            seed=self.random_state, device=self.device, n_threads=self.n_threads, trace=False)
        self.classes_ = self.fit_.classes
        self.n_features_in_ = check_tokens(X, "X").shape[-1]
        return self

    def _check_fitted_tokens(self, X):
        if not hasattr(self, "fit_"):
            raise NotFittedError("This TransformerClassifier is not fitted yet; call fit first.")
        tokens = check_tokens(X, "X")
        if tokens.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {tokens.shape[-1]} features per token, but the classifier "
                             f"was fitted with {self.n_features_in_}.")
        return tokens

    def predict_proba(self, X):
        """Instance probabilities ``(n, n_classes)``: the mean of the token probabilities."""
        tokens = self._check_fitted_tokens(X)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        try:
            return self.fit_.predict_proba(tokens).mean(axis=1)
        finally:
            torch.set_num_threads(previous)

    def predict(self, X):
        """Instance classes: the argmax of :meth:`predict_proba`."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]
