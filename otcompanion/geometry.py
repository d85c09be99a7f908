"""Class means of the dummy Gaussians: the one geometry of the OT classifier and of the head
pretraining.

The thesis places the mean of class ``i`` of ``k`` on a circle of radius ``3k``, written in its
R code as ``c(radius*sin(i*fraq), radius*cos(i*fraq))`` with ``fraq = 2*pi/k``:

.. math::
    m_i = 3k\\,\\big(\\sin(2\\pi i/k),\\ \\cos(2\\pi i/k),\\ 0, \\dots, 0\\big),
    \\qquad i = 0, \\dots, k - 1.

Class 0 sits at :math:`(0, 3k)`. For two classes the means are :math:`(0, 6)` and
:math:`(0, -6)`, perpendicular to the axis along which the thesis's data classes are separated;
for three classes :math:`(0, 9)`, :math:`(7.79, -4.5)`, :math:`(-7.79, -4.5)` (Quadrio &
Candelieri, 2025, the dummy-Gaussian OT model and the MLP pretraining). Other layouts (the
``(cos, sin)`` circle, a regular simplex, a rotation, another radius) are options for
sensitivity studies, never the default. One of them is the thesis's own: its simulation script
pretrains the head on means aligned with the data's classes, :math:`(-5, 0), (5, 0), (0, 5)`
(``"aligned"``).

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_int, check_positive, check_real

#: Named layouts of :func:`dummy_means`.
GEOMETRIES = ("circle", "circle_cos_sin", "simplex", "aligned")


def dummy_means(n_classes, geometry="circle", radius=None, dim=2, rotation=0.0):
    """Class means of the dummy Gaussians (thesis circle by default).

    With :math:`\\theta_i = 2\\pi i / k + \\varphi` (``rotation`` :math:`\\varphi`) and radius
    :math:`r` (default :math:`3k`):

    - ``"circle"``, the thesis's layout:
      :math:`m_i = r(\\sin\\theta_i, \\cos\\theta_i, 0, \\dots, 0)`; class 0 at :math:`(0, r)`
      and the classes clockwise from there;
    - ``"circle_cos_sin"``: :math:`m_i = r(\\cos\\theta_i, \\sin\\theta_i, 0, \\dots, 0)`,
      class 0 at :math:`(r, 0)` and the classes counter-clockwise (a reflection of the thesis
      circle across the diagonal, for sensitivity studies);
    - ``"simplex"``: the ``k`` vertices of a regular simplex centred at the origin with
      circumradius :math:`r` (every pair of means :math:`r\\sqrt{2k/(k-1)}` apart) in the first
      ``k - 1`` coordinates, vertex 0 on the first axis; for ``k = 2, 3`` it is the
      ``"circle_cos_sin"`` layout. ``rotation`` must be 0;
    - ``"aligned"``, the means of the thesis's simulation script (for 2 or 3 classes): where
      the thesis's data classes lie, :math:`(-r, 0), (r, 0)` and, for three classes,
      :math:`(0, r)`, with :math:`r = 5` by default. ``rotation`` must be 0.

    Neighbouring circle means are :math:`2r\\sin(\\pi/k)` apart (12 for two classes, about 15.6
    for three at the default radius).

    Parameters
    ----------
    n_classes : int
        ``k >= 2``.
    geometry : {"circle", "circle_cos_sin", "simplex"}, default "circle"
    radius : float, optional
        Distance ``r > 0`` of every mean from the origin; default ``3 * n_classes`` (5 for
        ``"aligned"``).
    dim : int, default 2
        Dimension of the space; zeros fill the coordinates the layout does not use.
    rotation : float, default 0.0
        Angle :math:`\\varphi` in radians added to every class's angle (circles only).

    Returns
    -------
    means : ndarray of shape (n_classes, dim)
        Row ``i`` for class ``i``; coordinates below ``1e-12 r`` in magnitude are set to 0.

    Raises
    ------
    ValueError
        A bad argument, or ``dim`` below the layout's dimension (2 for the circles, ``k - 1``
        for the simplex).
    """
    k = check_int(n_classes, "n_classes", 2)
    dim = check_int(dim, "dim", 1)
    rotation = check_real(rotation, "rotation")
    if not isinstance(geometry, str) or geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}.")
    if radius is None:
        radius = 5.0 if geometry == "aligned" else 3.0 * k
    radius = check_positive(radius, "radius")
    if geometry == "aligned":
        if k > 3:
            raise ValueError(f"geometry 'aligned' has 2 or 3 classes (the thesis's), got {k}.")
        if rotation != 0.0:
            raise ValueError("rotation applies to the circle geometries, not to 'aligned'.")
        layout = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])[:k]
    elif geometry == "simplex":
        if rotation != 0.0:
            raise ValueError("rotation applies to the circle geometries, not to 'simplex'.")
        # The centred vertices e_i - 1/k in an orthonormal basis of their span chosen by
        # Gram-Schmidt on vertices 0, 1, ...: vertex 0 lies on the positive first axis and
        # vertex 1 in the upper half-plane.
        vertices = np.eye(k) - 1.0 / k
        basis, upper = np.linalg.qr(vertices[:k - 1].T)
        basis *= np.sign(np.diag(upper))
        layout = vertices @ basis
        layout /= np.linalg.norm(layout, axis=1, keepdims=True)
    else:
        angles = 2.0 * np.pi * np.arange(k) / k + rotation
        first, second = ((np.sin(angles), np.cos(angles)) if geometry == "circle"
                         else (np.cos(angles), np.sin(angles)))
        layout = np.stack([first, second], axis=1)
    needed = layout.shape[1]
    if dim < needed:
        raise ValueError(
            f"dim={dim} is too small for geometry {geometry!r} with {k} classes: it lies in "
            f"the first {needed} coordinates, and fewer would fold means onto each other; use "
            f"dim >= {needed} or explicit means."
        )
    means = np.zeros((k, dim))
    means[:, :needed] = radius * layout
    means[np.abs(means) < 1e-12 * radius] = 0.0
    return means
