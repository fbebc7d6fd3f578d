"""Sample designs: samples (donors) nested in conditions, with their compositions and factors.

A design splits the cells into samples, consecutive in cell order as batches are, and puts each
sample in one condition. Every sample draws its own group probabilities (a Dirichlet) around
those of its condition (``group_prob``, scaled by ``cond_prop_fac`` outside the reference) and
a log-normal factor per gene (the donor-to-donor variation that makes cells of one sample
alike); every condition but the first (the reference) draws DE factors per group
(or one set shared by all groups), as Splat draws them for groups. A cell's expression profile
is then that of its batch and group times its sample's and its condition's factors, normalised
to sum to one.

Every draw comes from a stream of its own under the design's key (see
:func:`~sc_synth.pp._splat.design_stream`), per sample where it concerns one sample, so that a
design leaves the draws of the model without it unchanged (library sizes, gene truth, count
noise) and adding samples leaves the earlier samples' draws as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from ._checks import check_count, check_probabilities
from ._params import COND_DE, SimParams
from ._splat import GeneTruth, design_stream, lognormal_factors, per_unit

# Keys of the design's streams (under the design's own key).
_CONDITION_DE, _SAMPLE_FACTORS, _COMPOSITION, _CELL_GROUPS = 0, 1, 2, 3
# The SimParams fields a design draws from (the "Sample design" section).
DESIGN_PARAMS = (
    "sample_fac_scale",
    "sample_group_conc",
    *COND_DE,
    "cond_de_shared",
    "cond_prop_fac",
)


@dataclass(frozen=True)
class Design:
    """Checked samples and conditions; ``sample_condition[s]`` numbers sample ``s``'s condition."""

    sample_cells: list[int]
    sample_condition: np.ndarray
    conditions: list[str]

    @property
    def n_samples(self) -> int:
        return len(self.sample_cells)

    @property
    def samples(self) -> list[str]:
        return [f"Sample{s}" for s in range(1, self.n_samples + 1)]

    def cell_samples(self) -> np.ndarray:
        """Sample number of every cell: samples are consecutive runs of cells."""
        return np.repeat(np.arange(self.n_samples), self.sample_cells)

    def draw(
        self, seed: int, params: SimParams, n_genes: int, group_prob: list[float]
    ) -> DesignTruth:
        """Draw each sample's composition and factors, and each condition's DE factors."""
        n_groups = len(group_prob)
        centre = _condition_group_prob(group_prob, len(self.conditions), params)
        composition = np.array(
            [
                _composition(design_stream(seed, _COMPOSITION, s), centre[c], params)
                for s, c in enumerate(self.sample_condition)
            ]
        )
        sample_fac = np.empty((self.n_samples, n_genes))
        for s in range(self.n_samples):
            rng = design_stream(seed, _SAMPLE_FACTORS, s)
            sample_fac[s] = np.exp(rng.normal(0.0, params.sample_fac_scale, n_genes))
        cond_de_fac = np.ones((len(self.conditions), n_groups, n_genes))
        rng = design_stream(seed, _CONDITION_DE)
        per_group = [per_unit(getattr(params, name), n_groups) for name in COND_DE]
        for c in range(1, len(self.conditions)):
            if params.cond_de_shared:
                cond_de_fac[c] = lognormal_factors(rng, n_genes, *(v[0] for v in per_group))
                continue
            for g in range(n_groups):
                cond_de_fac[c, g] = lognormal_factors(rng, n_genes, *(v[g] for v in per_group))
        return DesignTruth(self, seed, centre, composition, sample_fac, cond_de_fac)


def _condition_group_prob(group_prob: list[float], n_conditions: int, params: SimParams):
    """Group probabilities around which each condition's samples draw (conditions × groups).

    The reference keeps ``group_prob``; the other conditions scale it by ``cond_prop_fac``.
    """
    shifted = np.asarray(group_prob) * per_unit(params.cond_prop_fac, len(group_prob))
    centre = np.tile(shifted / shifted.sum(), (n_conditions, 1))
    centre[0] = group_prob
    return centre


def _composition(rng: np.random.Generator, prob: np.ndarray, params: SimParams):
    """Draw a sample's group probabilities: Dirichlet around ``prob``, 0 where it is 0."""
    if np.isinf(params.sample_group_conc):
        return prob
    drawn = np.zeros_like(prob)
    present = prob > 0
    drawn[present] = rng.dirichlet(params.sample_group_conc * prob[present])
    return drawn


@dataclass(frozen=True)
class DesignTruth:
    """A design's draws, for cells to be assigned and profiled.

    ``condition_group_prob`` is conditions × groups, ``composition`` samples × groups,
    ``sample_fac`` samples × genes and ``cond_de_fac`` conditions × groups × genes (all 1 for
    the reference condition).
    """

    design: Design
    seed: int
    condition_group_prob: np.ndarray
    composition: np.ndarray
    sample_fac: np.ndarray
    cond_de_fac: np.ndarray

    def cell_groups(self) -> np.ndarray:
        """Group number of every cell, drawn per sample from the sample's composition."""
        n_groups = self.composition.shape[1]
        return np.concatenate(
            [
                design_stream(self.seed, _CELL_GROUPS, s).choice(n_groups, size=n, p=prob)
                for s, (n, prob) in enumerate(
                    zip(self.design.sample_cells, self.composition, strict=True)
                )
            ]
        )

    def profiles(
        self, truth: GeneTruth, batch: np.ndarray, group: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expression proportions of every (batch, sample, group) met, and each cell's row.

        Only the combinations that cells fall in get a row: consecutive samples and batches
        meet in at most ``n_batches + n_samples`` ways, so the table stays small however many
        of each there are.
        """
        n_samples, n_groups = self.composition.shape
        batch, group = (np.asarray(codes, dtype=np.int64) for codes in (batch, group))
        code = (batch * n_samples + self.design.cell_samples()) * n_groups + group
        combos, profile_index = np.unique(code, return_inverse=True)
        sample, g = np.divmod(combos, n_groups)
        b, sample = np.divmod(sample, n_samples)
        means = truth.gene_mean * truth.batch_fac[b] * truth.de_fac[g] * self.factors(sample, g)
        return means / means.sum(axis=1, keepdims=True), profile_index.ravel()

    def factors(self, sample: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Sample times condition DE factors (pairs × genes) of each (sample, group) pair."""
        condition = self.design.sample_condition[sample]
        return self.sample_fac[sample] * self.cond_de_fac[condition, group]

    def obs(self) -> dict[str, pd.Categorical]:
        """Return the ``sample`` and ``condition`` of every cell."""
        samples = self.design.cell_samples()
        return {
            "sample": pd.Categorical.from_codes(samples, self.design.samples),
            "condition": pd.Categorical.from_codes(
                self.design.sample_condition[samples], self.design.conditions
            ),
        }

    def var(self, group_names: list[str]) -> dict[str, np.ndarray]:
        """Condition DE factors and flags per non-reference condition and group."""
        factors = {
            f"cond_de_fac_{condition}_{group}": self.cond_de_fac[c, g]
            for c, condition in enumerate(self.design.conditions[1:], start=1)
            for g, group in enumerate(group_names)
        }
        flags = {
            name.replace("cond_de_fac_", "cond_de_", 1): values != 1.0
            for name, values in factors.items()
        }
        return factors | flags

    def varm(self) -> dict[str, np.ndarray]:
        """Genes × samples factors."""
        return {"sample_fac": self.sample_fac.T}

    def record(self, group_names: list[str]) -> dict:
        """Return the samples, their conditions and their drawn compositions, h5ad-writable."""
        return {
            "sample_cells": list(self.design.sample_cells),
            "sample_condition": [self.design.conditions[c] for c in self.design.sample_condition],
            "conditions": list(self.design.conditions),
            "condition_group_prob": pd.DataFrame(
                self.condition_group_prob, index=self.design.conditions, columns=group_names
            ),
            "composition": pd.DataFrame(
                self.composition, index=self.design.samples, columns=group_names
            ),
        }


def check_design(
    n_cells: int,
    n_samples,
    sample_cells,
    condition_prob,
    sample_condition,
    params: SimParams,
    n_groups: int,
) -> Design | None:
    """Check the design's arguments, raising before any work; ``None`` when none is asked for."""
    if n_samples is None and sample_cells is None:
        for name, value in (
            ("condition_prob", condition_prob),
            ("sample_condition", sample_condition),
        ):
            if value is not None:
                raise ValueError(f"`{name}` needs samples: give `n_samples` or `sample_cells` too.")
        return None
    if n_samples is not None and sample_cells is not None:
        raise ValueError("Give `n_samples` or `sample_cells`, not both.")
    if params.method == "paths":
        raise ValueError(
            "Sample designs (`n_samples`, `sample_cells`) need method='groups' or 'single', "
            "got method='paths'."
        )
    if params.cond_de_shared:
        for name in COND_DE:
            value = getattr(params, name)
            if isinstance(value, tuple) and len(value) > 1:
                raise ValueError(
                    f"`{name}` must be a single number with cond_de_shared=True (one response "
                    f"shared by all groups), got {len(value)} values."
                )
    cells = _check_sample_cells(n_cells, n_samples, sample_cells)
    if condition_prob is not None and sample_condition is not None:
        raise ValueError("Give `condition_prob` or `sample_condition`, not both.")
    if sample_condition is not None:
        return Design(cells, *_check_sample_condition(sample_condition, len(cells)))
    prob = (
        [1.0] if condition_prob is None else check_probabilities("condition_prob", condition_prob)
    )
    counts = _allocate(len(cells), prob)
    if min(counts) == 0:
        raise ValueError(
            f"`condition_prob` {prob} leaves a condition without samples: {len(cells)} samples "
            f"split as {counts}. Give more samples or larger probabilities."
        )
    conditions = [f"Condition{c}" for c in range(1, len(prob) + 1)]
    return Design(cells, _interleave(counts), conditions)


def _check_sample_cells(n_cells: int, n_samples, sample_cells) -> list[int]:
    if n_samples is not None:
        n_samples = check_count("n_samples", n_samples)
        if n_samples > n_cells:
            raise ValueError(
                f"`n_samples` must be at most `n_cells` ({n_cells}) so that every sample has a "
                f"cell, got {n_samples}."
            )
        # Cells split as evenly as they can be, the first samples taking the remainder.
        return [n_cells // n_samples + (s < n_cells % n_samples) for s in range(n_samples)]
    if isinstance(sample_cells, str) or not isinstance(sample_cells, Sequence | np.ndarray):
        raise TypeError(
            f"`sample_cells` must be a sequence of cell counts per sample, got {sample_cells!r}."
        )
    if len(sample_cells) == 0:
        raise ValueError("`sample_cells` must list at least one sample.")
    counts = [check_count("sample_cells", n) for n in sample_cells]
    if sum(counts) != n_cells:
        raise ValueError(
            f"`sample_cells` must add up to `n_cells` ({n_cells}); got {counts} (sum {sum(counts)})."
        )
    return counts


def _check_sample_condition(sample_condition, n_samples: int) -> tuple[np.ndarray, list[str]]:
    """Condition numbers per sample and condition names, in order of first appearance."""
    samples = [f"Sample{s}" for s in range(1, n_samples + 1)]
    if isinstance(sample_condition, Mapping):
        unknown = sorted(set(sample_condition) - set(samples), key=str)
        if unknown:
            raise ValueError(
                f"`sample_condition` names unknown samples {unknown}; the samples are "
                f"'Sample1' … 'Sample{n_samples}'."
            )
        missing = [s for s in samples if s not in sample_condition]
        if missing:
            raise ValueError(
                f"`sample_condition` must give every sample a condition; missing {missing}."
            )
        labels = [sample_condition[s] for s in samples]
    elif isinstance(sample_condition, Sequence | np.ndarray) and not isinstance(
        sample_condition, str
    ):
        labels = list(sample_condition)
        if len(labels) != n_samples:
            raise ValueError(
                f"`sample_condition` must hold one condition per sample ({n_samples}), "
                f"got {len(labels)}."
            )
    else:
        raise TypeError(
            "`sample_condition` must be a mapping from sample names ('Sample1', …) to conditions "
            f"or a sequence of one condition per sample, got {sample_condition!r}."
        )
    for label in labels:
        if not isinstance(label, str | Integral) or isinstance(label, bool):
            raise TypeError(
                f"`sample_condition` must name conditions by strings or integers, got {label!r}."
            )
    names = list(dict.fromkeys(str(label) for label in labels))
    return np.array([names.index(str(label)) for label in labels]), names


def _allocate(n_samples: int, prob: list[float]) -> list[int]:
    """Split samples into conditions: ``n_samples · prob`` rounded by largest remainders."""
    share = np.asarray(prob) * n_samples
    counts = np.floor(share).astype(int)
    extra = n_samples - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:extra]] += 1
    return [int(c) for c in counts]


def _interleave(counts: list[int]) -> np.ndarray:
    """Conditions of consecutive samples, spread evenly (``[2, 2]`` → 0, 1, 0, 1).

    Batches are consecutive runs of cells as samples are, so spreading the conditions keeps
    each batch from holding one condition alone.
    """
    total = sum(counts)
    target = np.asarray(counts, dtype=float) / total
    given = np.zeros(len(counts))
    order = np.empty(total, dtype=int)
    for s in range(total):
        c = int(np.argmax(target * (s + 1) - given))
        order[s] = c
        given[c] += 1
    return order
