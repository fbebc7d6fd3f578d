"""Preprocessing: simulate counts with known ground truth and estimate simulation parameters."""

from ._estimate import estimate_params
from ._params import SimParams
from ._reference import ReferenceParams
from ._simulate import simulate

__all__ = ["ReferenceParams", "SimParams", "estimate_params", "simulate"]
