"""Multi-head self-attention with keras's parametrization, and its factored computation.

:class:`~otcompanion.attention.MultiHeadSelfAttention` is the attention layer of the thesis's
encoder block (keras ``MultiHeadAttention``; Vaswani et al., 2017, §3.2). For tokens of few features
it computes the same function through per-head ``(d + 1) x (d + 1)`` and ``(d + 1) x d`` matrices,
with a hand-written backward pass (:class:`_FactoredAttention`) and a softmax over the keys that
skips the shift by the maximum when it is not needed (:func:`_softmax_parts`).

References
----------
- A. Vaswani et al. *Attention is all you need*. NeurIPS 2017 (multi-head attention).
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- keras ``MultiHeadAttention``, whose parametrization and initialization are matched here.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .layers import Dropout, dropout_noise, keras_glorot_


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
    Otherwise the direct computation above is used. The factored computation works on
    width-``d + 1`` products instead of width-``H k`` ones, which is why it is used whenever
    ``d + 1 < k`` (``benchmarks/training_parts.py`` times both, forward and backward in
    training mode and the inference forward, at the thesis size). The two computations round
    differently; with ``d = 2`` the post-norm LayerNorm normalizes two numbers and amplifies
    such differences by orders of magnitude, so float32 training trajectories of the two part
    within a few epochs.

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
            keras_glorot_(layer.weight, n_heads * n_features, key_dim * n_features)
            nn.init.zeros_(layer.bias)
        # keras kernel (H, k, d): fan_in = k H, fan_out = d H
        keras_glorot_(self.output.weight, key_dim * n_heads, n_features * n_heads)
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
        # A new tensor of the scores' size would cost more than a pass over one already in
        # the cache: the dropout mask becomes E * D, in place.
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
            # (c, H T) x (H T, T): torch's bmm handles that layout better than
            # (T, H T) x (H T, c) (benchmarks/training_parts.py times both).
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
