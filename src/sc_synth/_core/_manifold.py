"""The k-NN ball rule of manifold precision, recall, density and coverage, stated once.

A point's ball reaches its k-th nearest neighbour in its own set (the point itself not counted),
and a point ``p`` lies in the ball of ``c`` when ``d(p, c)`` is *strictly* below that radius, as in
Naeem et al. (2020)'s reference code. The strict rule matters only for ties, and a tie decides
on a point exactly at the radius, the k-th neighbour's own distance, which the non-strict
``<=`` of Kynkäänniemi et al. (2019) would count in: with duplicated cells (all-zero cells, for
one) that moves the numbers. The evaluation (:mod:`sc_synth.tl._neighbors`, compiled) and the
GAN's in-batch monitor (torch) both decide with :func:`in_ball`.
"""

from __future__ import annotations


def in_ball(distance, radius):
    """Whether points at ``distance`` from a ball's centre lie inside a ball of ``radius``.

    Works elementwise on scalars, numpy arrays and torch tensors alike (and on squared distances
    and radii, the rule being monotone); compiled code calls it through ``numba.njit``.
    """
    return distance < radius
