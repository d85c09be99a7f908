"""Time of the parts of a thesis-size training epoch against the alternatives they replaced.

Usage::

    .venv/bin/python benchmarks/training_parts.py [--repeats 7]

One torch thread, thesis sizes (36 training instances of 20 tokens in training mode, all 45 in
the inference pass; d = 2, 10 heads, key_dim 16). Each row times two ways of computing the
same thing, alternating, and prints the best of ``--repeats`` rounds of many calls and the
ratio:

- one attention layer's forward and backward pass in training mode, and its inference
  forward: the factored computation (:class:`otcompanion.attention.MultiHeadSelfAttention`,
  scores not returned) against the direct one (width ``H * key_dim``);
- the softmax over the keys of the key-major scores and their product with the tokens:
  ``otcompanion.attention.self_attention._softmax_parts`` (no shift by the maximum unless
  ``exp`` overflows, the normalization applied to the product) against
  ``torch.softmax(logits, dim=1)`` then the product;
- a gradient product with the scores: ``(c, H T) x (H T, T)`` against ``(T, H T) x (H T, c)``;
- an optimizer step of the thesis model: :class:`otcompanion.attention.KerasRMSprop` on its
  flat buffer against the same update per tensor with ``torch._foreach_*`` (written out below,
  the implementation it replaced);
- a small dropout mask ``(36, 20, 2)``: :func:`otcompanion.attention.dropout_noise` against
  the same draw from a PCG64 seeded through NumPy's ``SeedSequence``.
"""

from __future__ import annotations

import argparse
import math
import platform
import timeit

import numpy as np
import pandas as pd
import torch

from otcompanion import attention
from otcompanion.attention import MultiHeadSelfAttention, ThesisTransformer
from otcompanion.attention.self_attention import _softmax_parts
from otcompanion.attention.transformer import token_loss


def foreach_rmsprop_step(params, velocity, lr=1e-2, rho=0.9, eps=1e-7):
    """The per-tensor keras RMSprop update (the previous ``KerasRMSprop.step``)."""
    grads = [q.grad for q in params]
    with torch.no_grad():
        torch._foreach_mul_(velocity, rho)
        torch._foreach_addcmul_(velocity, grads, grads, value=1 - rho)
        denominators = torch._foreach_add(velocity, eps)
        torch._foreach_sqrt_(denominators)
        torch._foreach_addcdiv_(params, grads, denominators, value=-lr)


def seed_sequence_noise(shape, p):
    """``dropout_noise`` with the generator seeded through NumPy's ``SeedSequence``."""
    size = math.prod(shape)
    seed = int(torch.randint(0, 2 ** 63 - 1, (1,)))
    bits = np.random.PCG64(seed).random_raw((size + 3) // 4).view(np.uint16)[:size]
    keep = (bits >= round(65536 * p)).astype(np.float32)
    keep *= np.float32(1.0 / (1.0 - p))
    return torch.from_numpy(keep).view(shape)


def pairs():
    """``(part, current, alternative)`` with two zero-argument callables each."""
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(2, 10, 16, 0.1)
    x = torch.randn(36, 20, 2, requires_grad=True)
    upstream = torch.randn(36, 20, 2)  # a gradient from the layers above
    x_all = torch.randn(45, 20, 2)

    def train(compute):
        def step():
            layer.train()
            compute(x, False)[0].backward(upstream)
        return step

    def infer(compute):
        def forward():
            layer.eval()
            with torch.no_grad():
                compute(x_all, False)
        return forward

    logits = torch.randn(36, 20, 200)
    scores, columns = torch.softmax(logits, 1), torch.randn(36, 3, 200)
    tokens = torch.randn(36, 3, 20)  # x~ transposed

    def normalized_after():
        exps, norm = _softmax_parts(logits)
        return torch.bmm(tokens, exps).mul_(norm)

    model = ThesisTransformer(2, 2)
    twin = ThesisTransformer(2, 2)
    inputs, codes = torch.randn(36, 20, 2), torch.randint(0, 2, (36,))
    token_loss(twin(inputs), codes).backward()
    twin_params = list(twin.parameters())
    velocity = [torch.zeros_like(q) for q in twin_params]
    optimizer = attention.KerasRMSprop(model.parameters(), lr=1e-2)
    token_loss(model(inputs), codes).backward()

    return [
        ("attention layer, training forward + backward (36)",
         train(layer._factored), train(layer._direct)),
        ("attention layer, inference forward (45)", infer(layer._factored), infer(layer._direct)),
        ("softmax over the keys (36 x 20 x 200) and product with the tokens",
         normalized_after, lambda: torch.bmm(tokens, torch.softmax(logits, dim=1))),
        ("gradient product with the scores",
         lambda: columns @ scores.transpose(1, 2), lambda: scores @ columns.transpose(1, 2)),
        ("RMSprop step of the thesis model (36 tensors)",
         optimizer.step, lambda: foreach_rmsprop_step(twin_params, velocity)),
        ("dropout mask (36, 20, 2)", lambda: attention.dropout_noise((36, 20, 2), 0.1, "cpu"),
         lambda: seed_sequence_noise((36, 20, 2), 0.1)),
    ]


def best_microseconds(function, repeats, number=200):
    function()
    return min(timeit.repeat(function, number=number, repeat=1)[0] for _ in range(repeats)) \
        / number * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    torch.set_num_threads(1)
    print(f"machine: {platform.machine()}, torch {torch.__version__}, one thread; best of "
          f"{args.repeats} rounds of 200 calls, the two variants alternating\n")
    rows = []
    for part, current, alternative in pairs():
        times = {"current": [], "alternative": []}
        for _ in range(args.repeats):
            times["current"].append(best_microseconds(current, 1))
            times["alternative"].append(best_microseconds(alternative, 1))
        now, before = min(times["current"]), min(times["alternative"])
        rows.append({"part": part, "current us": round(now, 1),
                     "alternative us": round(before, 1),
                     "alternative / current": round(before / now, 2)})
    print(pd.DataFrame(rows).set_index("part").to_string())


if __name__ == "__main__":
    main()
