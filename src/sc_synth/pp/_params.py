"""Parameters of the Splat model: defaults, validation and a readable representation."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from numbers import Real

import numpy as np

DROPOUT_TYPES = ("none", "experiment", "batch", "group", "cell")
METHODS = ("single", "groups", "paths")

# Parameters that may be given once per batch, once per group, or (dropout) per cell.
PER_BATCH = ("batch_fac_loc", "batch_fac_scale")
_DE = ("de_prob", "de_down_prob", "de_fac_loc", "de_fac_scale")
# Condition effects of a sample design, drawn per group like DE.
COND_DE = ("cond_de_prob", "cond_de_down_prob", "cond_de_fac_loc", "cond_de_fac_scale")
PER_GROUP = _DE + COND_DE + ("cond_prop_fac",)
PER_DROPOUT_UNIT = ("dropout_mid", "dropout_shape")
PER_PATH = ("path_from", "path_n_steps", "path_skew")
# Per-path parameters that count: the path a path starts from, and its number of steps.
_INTEGERS = {"path_from": 0, "path_n_steps": 1}

# (lower, upper, inclusive-lower) bounds; None means unbounded on that side.
_BOUNDS = {
    "mean_shape": (0.0, None, False),
    "mean_rate": (0.0, None, False),
    "lib_loc": (None, None, True),
    "lib_scale": (0.0, None, True),
    "out_prob": (0.0, 1.0, True),
    "out_fac_loc": (None, None, True),
    "out_fac_scale": (0.0, None, True),
    "batch_fac_loc": (None, None, True),
    "batch_fac_scale": (0.0, None, True),
    "de_prob": (0.0, 1.0, True),
    "de_down_prob": (0.0, 1.0, True),
    "de_fac_loc": (None, None, True),
    "de_fac_scale": (0.0, None, True),
    "bcv_common": (0.0, None, True),
    "bcv_df": (0.0, None, False),
    "dropout_mid": (None, None, True),
    "dropout_shape": (None, None, True),
    "path_skew": (0.0, 1.0, True),
    "path_nonlinear_prob": (0.0, 1.0, True),
    "path_sigma_fac": (0.0, None, True),
    "sample_fac_scale": (0.0, None, True),
    "sample_group_conc": (0.0, None, False),
    "cond_de_prob": (0.0, 1.0, True),
    "cond_de_down_prob": (0.0, 1.0, True),
    "cond_de_fac_loc": (None, None, True),
    "cond_de_fac_scale": (0.0, None, True),
    "cond_prop_fac": (0.0, None, False),
}

_SECTIONS = {
    "method": ("method",),
    "gene means": ("mean_shape", "mean_rate"),
    "library sizes": ("lib_loc", "lib_scale", "lib_norm"),
    "expression outliers": ("out_prob", "out_fac_loc", "out_fac_scale"),
    "batch effects": ("batch_fac_loc", "batch_fac_scale", "batch_rm_effect"),
    "differential expression": _DE,
    "biological coefficient of variation": ("bcv_common", "bcv_df"),
    "dropout": ("dropout_type", "dropout_mid", "dropout_shape"),
    "differentiation paths": PER_PATH + ("path_nonlinear_prob", "path_sigma_fac"),
    "samples and conditions": (
        "sample_fac_scale",
        "sample_group_conc",
        *COND_DE,
        "cond_de_shared",
        "cond_prop_fac",
    ),
}


def _range_text(lower, upper, closed_lower) -> str:
    if lower is None and upper is None:
        return "a finite real number"
    if upper is None:
        return f"a real number {'>=' if closed_lower else '>'} {lower:g}"
    return f"a real number in [{lower:g}, {upper:g}]"


def _check_number(name: str, value, *, allow_inf: bool = False) -> float:
    lower, upper, closed_lower = _BOUNDS[name]
    accepted = _range_text(lower, upper, closed_lower)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"`{name}` must be {accepted}, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not (allow_inf and value > 0)):
        raise ValueError(f"`{name}` must be {accepted}, got {value!r}.")
    if lower is not None and (value < lower or (value == lower and not closed_lower)):
        raise ValueError(f"`{name}` must be {accepted}, got {value!r}.")
    if upper is not None and value > upper:
        raise ValueError(f"`{name}` must be {accepted}, got {value!r}.")
    return value


def _check_one_or_many(name: str, value, check, one: str, many: str):
    """``check`` one value, or each of a non-empty sequence of them (returned as a tuple)."""
    if isinstance(value, np.ndarray | Sequence) and not isinstance(value, str):
        values = list(np.asarray(value, dtype=object).ravel())
        if not values:
            raise ValueError(f"`{name}` must be {one} or a non-empty sequence of {many}.")
        return tuple(check(name, v) for v in values)
    if isinstance(value, np.generic):
        value = value.item()
    return check(name, value)


def _check_integer(name: str, value) -> int:
    minimum = _INTEGERS[name]
    accepted = f"an integer >= {minimum}"
    # Integral floats are accepted so that parameters read back from files, or written as
    # R-style numbers, need no conversion.
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer():
        raise TypeError(f"`{name}` must be {accepted}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be {accepted}, got {value!r}.")
    return int(value)


def _check_flag(name: str, value) -> bool:
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return value


@dataclass(frozen=True, repr=False)
class SimParams:
    """Parameters of the Splat model, with Splatter's defaults.

    Every parameter keeps Splatter's meaning and default under its snake-case name
    (``de.facLoc`` → ``de_fac_loc``). Sizes (cells, genes, cells per batch, group
    probabilities) and the seed are arguments of :func:`sc_synth.pp.simulate`, not
    parameters here. Instances are immutable and validated on creation; use
    :meth:`replace` to change values.

    Parameters
    ----------
    method
        ``"groups"`` (default): each group has its own DE factors; ``"single"``: one group
        and no DE (``group_prob`` must then be ``None`` or one probability); ``"paths"``:
        each group is a differentiation path along which cells move step by step from the
        path's start to its end (see the ``path_*`` parameters). As Splatter's ``method``
        argument; with one group ``"groups"`` gives the same as ``"single"``.
    mean_shape, mean_rate
        Shape and rate of the gamma distribution of base gene means (> 0).
    lib_loc, lib_scale
        Location and scale (≥ 0) of the library-size distribution: log-normal
        ``meanlog``/``sdlog``, or normal mean/sd when ``lib_norm`` is true.
    lib_norm
        Draw library sizes from a normal instead of a log-normal distribution.
    out_prob
        Probability in [0, 1] that a gene is an expression outlier.
    out_fac_loc, out_fac_scale
        Log-normal location and scale (≥ 0) of outlier factors, which multiply the
        median gene mean.
    batch_fac_loc, batch_fac_scale
        Log-normal location and scale (≥ 0) of batch factors: one number for all
        batches or one per batch.
    batch_rm_effect
        Draw batch factors (so the random stream and ``var`` columns are unchanged)
        but set them all to 1, giving the same data without batch effects.
    de_prob, de_down_prob
        Probability in [0, 1] that a gene is differentially expressed in a group, and
        that a DE gene goes down: one number for all groups or one per group.
    de_fac_loc, de_fac_scale
        Log-normal location and scale (≥ 0) of DE factors, one or one per group.
    bcv_common
        Common biological coefficient of variation (≥ 0).
    bcv_df
        Degrees of freedom (> 0, ``inf`` allowed) of the scaled inverse chi-squared
        distribution of the per-gene BCV factor; ``inf`` gives every gene the same BCV
        factor of 1.
    dropout_type
        One of ``"none"``, ``"experiment"``, ``"batch"``, ``"group"``, ``"cell"``.
    dropout_mid, dropout_shape
        Midpoint and shape of the logistic dropout probability on log cell means: one
        number (``"experiment"``) or one per batch, group or cell.
    path_from
        Where each path starts (``method="paths"`` only): 0 for the origin (the gene means
        without DE) or ``k`` for the end of path ``k`` (numbered from 1). One integer for all
        paths (then 0) or one per path; following the starts must lead to the origin, without
        cycles. ``[0, 1, 1]`` is a path from the origin that branches into two.
    path_n_steps
        Number of steps (integer ≥ 1) along each path, one or one per path. Step 1 is the
        path's start and the last step its end.
    path_skew
        How cells spread along each path, in [0, 1], one or one per path: the probability of
        step ``s`` of ``n`` is proportional to ``skew + (1 - 2 skew) (s - 1) / (n - 1)``, so
        0.5 is uniform, values near 1 put cells near the start and values near 0 near the end.
    path_nonlinear_prob
        Probability in [0, 1] that a gene changes non-linearly along a path (drawn per gene
        and path); the other genes' factors change linearly from the start to the end.
    path_sigma_fac
        Scale (≥ 0) of the non-linear changes: the standard deviation of a non-linear gene's
        random walk is uniform between 0 and ``path_sigma_fac`` times the mean of its start
        and end factors.
    sample_fac_scale
        Log-normal scale (≥ 0) of the sample factors of a sample design (``n_samples`` or
        ``sample_cells`` in :func:`~sc_synth.pp.simulate`): every gene of every sample gets a
        factor ``exp(N(0, sample_fac_scale))``, the donor-to-donor variation of a gene's mean.
        Not in Splatter; unused without samples.
    sample_group_conc
        Concentration (> 0, ``inf`` allowed) of the Dirichlet distribution of each sample's
        group probabilities around ``group_prob``: a sample's share of group *g* has mean
        ``group_prob[g]`` and variance ``group_prob[g] (1 - group_prob[g]) /
        (sample_group_conc + 1)``; ``inf`` gives every sample ``group_prob``. Not in Splatter.
    cond_de_prob, cond_de_down_prob
        Probability in [0, 1] that a gene is differentially expressed between a condition and
        the first (reference) condition within a group, and that such a gene goes down: one
        number for all groups or one per group. Not in Splatter; unused with one condition.
    cond_de_fac_loc, cond_de_fac_scale
        Log-normal location and scale (≥ 0) of the condition DE factors, one or one per group,
        drawn as ``de_fac_loc`` and ``de_fac_scale`` are.
    cond_de_shared
        Give every group the same condition DE genes and factors (a response shared by all cell
        types) instead of drawing them per group (a type-specific response); the four
        ``cond_de_*`` parameters must then be single numbers.
    cond_prop_fac
        Differential proportion (> 0): one number for all groups or one per group, multiplying
        ``group_prob`` (then normalised to sum to 1) around which the samples of every condition
        but the reference draw their compositions; ``[2, 1, 1]`` doubles the odds of the first
        group in those conditions. 1 (the default) gives all conditions the same proportions.

    Examples
    --------
    >>> import sc_synth as ss
    >>> params = ss.pp.SimParams(de_prob=0.2)
    >>> params.replace(bcv_common=0.3).bcv_common
    0.3
    """

    mean_shape: float = 0.6
    mean_rate: float = 0.3
    lib_loc: float = 11.0
    lib_scale: float = 0.2
    lib_norm: bool = False
    out_prob: float = 0.05
    out_fac_loc: float = 4.0
    out_fac_scale: float = 0.5
    batch_fac_loc: float | tuple[float, ...] = 0.1
    batch_fac_scale: float | tuple[float, ...] = 0.1
    batch_rm_effect: bool = False
    de_prob: float | tuple[float, ...] = 0.1
    de_down_prob: float | tuple[float, ...] = 0.5
    de_fac_loc: float | tuple[float, ...] = 0.1
    de_fac_scale: float | tuple[float, ...] = 0.4
    bcv_common: float = 0.1
    bcv_df: float = 60.0
    dropout_type: str = "none"
    dropout_mid: float | tuple[float, ...] = 0.0
    dropout_shape: float | tuple[float, ...] = -1.0
    method: str = "groups"
    path_from: int | tuple[int, ...] = 0
    path_n_steps: int | tuple[int, ...] = 100
    path_skew: float | tuple[float, ...] = 0.5
    path_nonlinear_prob: float = 0.1
    path_sigma_fac: float = 0.8
    sample_fac_scale: float = 0.2
    sample_group_conc: float = 50.0
    cond_de_prob: float | tuple[float, ...] = 0.1
    cond_de_down_prob: float | tuple[float, ...] = 0.5
    cond_de_fac_loc: float | tuple[float, ...] = 0.1
    cond_de_fac_scale: float | tuple[float, ...] = 0.4
    cond_de_shared: bool = False
    cond_prop_fac: float | tuple[float, ...] = 1.0

    def __post_init__(self) -> None:
        per_unit = PER_BATCH + PER_GROUP + PER_DROPOUT_UNIT + ("path_skew",)
        for field in fields(self):
            name, value = field.name, getattr(self, field.name)
            if name in ("lib_norm", "batch_rm_effect", "cond_de_shared"):
                value = _check_flag(name, value)
            elif name == "method":
                if not isinstance(value, str) or value not in METHODS:
                    raise ValueError(f"`method` must be one of {METHODS}, got {value!r}.")
            elif name in _INTEGERS:
                value = _check_one_or_many(name, value, _check_integer, "an integer", "integers")
            elif name == "dropout_type":
                if not isinstance(value, str) or value not in DROPOUT_TYPES:
                    raise ValueError(
                        f"`dropout_type` must be one of {DROPOUT_TYPES}, got {value!r}."
                    )
            elif name in per_unit:
                value = _check_one_or_many(name, value, _check_number, "a number", "numbers")
            else:
                value = _check_number(
                    name, value, allow_inf=name in ("bcv_df", "sample_group_conc")
                )
            object.__setattr__(self, name, value)
        if self.dropout_type == "experiment":
            for name in PER_DROPOUT_UNIT:
                value = getattr(self, name)
                if isinstance(value, tuple) and len(value) != 1:
                    raise ValueError(
                        f"`{name}` must be a single number when dropout_type='experiment', "
                        f"got {len(value)} values."
                    )

    def replace(self, **changes) -> SimParams:
        """Return a validated copy with ``changes`` applied; unknown names raise :class:`TypeError`."""
        check_names(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Return the parameters as plain ``str``/``float``/``bool``/``list`` values (h5ad-writable).

        Single integers (``path_from``, ``path_n_steps``) become floats, which the constructor
        takes back as integers.
        """
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def __repr__(self) -> str:
        defaults = {f.name: f.default for f in fields(SimParams)}
        lines = ["SimParams("]
        for section, names in _SECTIONS.items():
            items = []
            for name in names:
                value = getattr(self, name)
                text = f"{name}={_format(value)}"
                items.append(text if value == defaults[name] else f"{text}*")
            lines.append(f"    # {section}")
            lines.append("    " + ", ".join(items) + ",")
        lines.append(")  # * differs from Splatter's default")
        return "\n".join(lines)


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _format(value) -> str:
    if isinstance(value, tuple):
        shown = ", ".join(f"{v:.4g}" for v in value[:6])
        return f"[{shown}{', …' if len(value) > 6 else ''}]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


PARAM_NAMES = tuple(f.name for f in fields(SimParams))


def check_names(params: dict) -> None:
    """Raise :class:`TypeError` naming any key of ``params`` that is not a Splat parameter."""
    unknown = sorted(set(params) - set(PARAM_NAMES))
    if unknown:
        raise TypeError(
            f"Unknown simulation parameter(s) {unknown}; accepted names: {', '.join(PARAM_NAMES)}."
        )
