"""The thesis Transformer's attention in its textbook formulation, kept as a test reference.

:class:`otcompanion.attention.MultiHeadSelfAttention` may compute the same function in a
cheaper way (for few features per token it folds the query-key and value-output products into
small per-head matrices). This module keeps the direct computation of Vaswani et al. 2017,
§3.2, reading the *same* parameters (``query``, ``key``, ``value``, ``output``):

.. math::
    Q_h = x W^Q_h + b^Q_h, \\quad K_h = x W^K_h + b^K_h, \\quad V_h = x W^V_h + b^V_h,
    \\qquad S_h = \\frac{Q_h K_h^\\top}{\\sqrt{k}}, \\qquad A_h = \\operatorname{softmax}(S_h),

.. math::
    \\operatorname{MHA}(x) = \\big[\\operatorname{Dropout}(A_1) V_1, \\dots,
    \\operatorname{Dropout}(A_H) V_H\\big] W^O + b^O,

with the dropout on the attention weights, before the values, as keras ``MultiHeadAttention``
does (the thesis's encoder: Quadrio & Candelieri 2025, arXiv:2512.09530).

:class:`ReferenceThesisTransformer` is a :class:`~otcompanion.attention.ThesisTransformer`
whose blocks use this reference attention, so it can be passed as ``model=`` to
:func:`~otcompanion.attention.train_transformer` to run (and time) the reference through the
same training loop.
"""

import copy
import math

import torch

from otcompanion.attention import MultiHeadSelfAttention, ThesisTransformer


def reference_attention(module, x):
    """Multi-head self-attention of ``x`` (B, T, d) with the parameters of ``module``.

    Parameters
    ----------
    module : MultiHeadSelfAttention
        Supplies the projections, the number of heads, the key width and the dropout (whose
        training mode decides whether the attention weights are dropped).
    x : Tensor of shape (B, T, d)

    Returns
    -------
    out : Tensor of shape (B, T, d)
    weights : Tensor of shape (B, H, T, T)
        ``A_h``, before dropout.
    logits : Tensor of shape (B, H, T, T)
        ``S_h``.
    """
    batch, tokens, _ = x.shape

    def heads(projected):
        return projected.view(batch, tokens, module.n_heads, module.key_dim).transpose(1, 2)

    q, k, v = heads(module.query(x)), heads(module.key(x)), heads(module.value(x))
    logits = q @ k.transpose(-1, -2) / math.sqrt(module.key_dim)
    weights = torch.softmax(logits, dim=-1)
    dropped = weights
    if module.training and module.dropout.p > 0:  # the module's mask, (B, H, T, T)
        dropped = weights * module.weight_noise(batch, tokens, x.device, x.dtype)
    context = dropped @ v  # (B, H, T, k)
    context = context.transpose(1, 2).reshape(batch, tokens, module.n_heads * module.key_dim)
    return module.output(context), weights, logits


class ReferenceSelfAttention(MultiHeadSelfAttention):
    """:class:`MultiHeadSelfAttention` with the parameters unchanged and the forward pass of
    :func:`reference_attention`."""

    def forward(self, x, attention=True):
        out, weights, scores = reference_attention(self, x)
        return (out, weights, scores) if attention else (out, None, None)


class ReferenceThesisTransformer(ThesisTransformer):
    """:class:`ThesisTransformer` whose blocks attend with :func:`reference_attention`.

    Built with the same arguments, under the same seed, it has the same initial weights as a
    :class:`ThesisTransformer` (the constructor draws them; only the attention's class changes
    afterwards).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for block in self.blocks:
            block.attention.__class__ = ReferenceSelfAttention

    @classmethod
    def from_model(cls, model):
        """A reference copy of ``model`` (same weights, frozen flags and mode)."""
        reference = copy.deepcopy(model)
        reference.__class__ = cls
        for block in reference.blocks:
            block.attention.__class__ = ReferenceSelfAttention
        return reference
