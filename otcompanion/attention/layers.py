"""Layers and optimizer of the thesis Transformer that reproduce keras's definitions.

- :func:`keras_glorot_` and :func:`keras_dense`: Glorot-uniform kernels with the fans keras
  computes, zero biases (keras ``Dense``, ``Conv1D(kernel_size=1)``, ``EinsumDense``);
- :func:`~otcompanion.attention.dropout_noise` and :class:`~otcompanion.attention.Dropout`:
  inverted dropout (Srivastava et al., 2014) with masks drawn from NumPy's PCG64 on the CPU
  (O'Neill, 2014);
- :class:`~otcompanion.attention.KerasRMSprop`: RMSprop with keras's update rule and defaults,
  the optimizer of the thesis (Quadrio & Candelieri, 2025).

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- X. Glorot, Y. Bengio. *Understanding the difficulty of training deep feedforward neural
  networks*. AISTATS 2010.
- N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov. *Dropout: a simple
  way to prevent neural networks from overfitting*. JMLR 15, 2014.
- M. E. O'Neill. *PCG: A family of simple fast space-efficient statistically good algorithms for
  random number generation*. Harvey Mudd College, HMC-CS-2014-0905, 2014.
- keras ``Dense``, ``Dropout`` and ``RMSprop``, the defaults matched here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .._validation import check_fraction, check_positive, check_real


def keras_glorot_(weight, fan_in, fan_out):
    """Glorot-uniform initialization with keras's fans:
    ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def keras_dense(n_in, n_out):
    """A ``Linear`` initialized like a keras ``Dense``/``Conv1D(kernel_size=1)``: Glorot-uniform
    kernel, zero bias."""
    layer = nn.Linear(n_in, n_out)
    keras_glorot_(layer.weight, n_in, n_out)
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
    state is the draw times an odd 128-bit constant rather than NumPy's ``SeedSequence``,
    whose seeding costs more than drawing a small mask such as ``(36, 20, 2)``;
    ``benchmarks/training_parts.py`` compares the two): the generator's raw 64-bit output,
    read as 16-bit uniform integers ``u`` in C order of ``shape``, keeps an element when
    ``u >= round(65536 p)``, a drop probability of ``round(65536 p) / 65536``
    (0.1000061 for ``p = 0.1``). Four mask elements per raw 64-bit draw make it cheaper than
    ``torch.nn.functional.dropout``'s per-element Bernoulli draws. On CUDA the mask is
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
    imports ``torch._dynamo`` once per process, which can take longer than a thesis-size fit.

    **One flat buffer.** The constructor moves the parameters into one flat tensor (every
    parameter's ``data`` becomes a view of it) and their gradients into another (every
    ``grad`` a view, which backpropagation accumulates into in place), so that a step is five
    operations on one tensor however many parameters there are, where per-tensor updates
    (``torch._foreach_*`` loops over the tensors on the CPU) pay a fixed cost for each of the
    thesis model's 36 small tensors (``benchmarks/training_parts.py`` compares the two).
    Gradients are therefore never ``None``:
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
