"""Labels, batches and per-condition library sizes learned from the training cells."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData


def categories(column: pd.Series) -> list[str]:
    """Category order as the user defined it for a categorical, sorted otherwise; unused dropped."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(column.astype(str))
        return [str(c) for c in column.cat.categories if str(c) in present]
    return sorted(column.astype(str).unique())


@dataclass
class Conditions:
    """The label × batch grid a generator was trained on and the library sizes seen in each cell.

    A missing ``labels_key`` or ``batch_key`` is one category named ``""``, so every model sees the
    same two-axis grid.
    """

    labels_key: str | None
    batch_key: str | None
    labels: list[str]
    batches: list[str]
    n_cells: np.ndarray
    log_lib_mean: np.ndarray
    log_lib_sd: np.ndarray

    @classmethod
    def fit(
        cls, adata: AnnData, library: np.ndarray, labels_key: str | None, batch_key: str | None
    ) -> Conditions:
        """:meth:`from_codes` for the cells of ``adata``, in the order of :func:`categories`."""
        labels = categories(adata.obs[labels_key]) if labels_key else [""]
        batches = categories(adata.obs[batch_key]) if batch_key else [""]
        grid = cls(labels_key, batch_key, labels, batches, *(np.zeros(0),) * 3)
        return cls.from_codes(labels_key, batch_key, labels, batches, *grid.codes(adata), library)

    @classmethod
    def from_codes(
        cls,
        labels_key: str | None,
        batch_key: str | None,
        labels: list[str],
        batches: list[str],
        label: np.ndarray,
        batch: np.ndarray,
        library: np.ndarray,
    ) -> Conditions:
        """Count cells per label × batch and fit a log-normal library size to each cell of the grid.

        ``label`` and ``batch`` are each training cell's codes in ``labels`` and ``batches``,
        ``library`` its total count. Cells of the grid with fewer than three training cells
        borrow the spread of their label, then of the whole data, so a rare combination does
        not collapse to one library size.
        """
        shape = (len(labels), len(batches))
        log_lib = np.log(library)
        n_cells = np.zeros(shape, dtype=np.int64)
        mean = np.full(shape, log_lib.mean())
        sd = np.full(shape, log_lib.std(ddof=1) if len(log_lib) > 1 else 0.0)
        for lab in range(shape[0]):
            in_label = label == lab
            if in_label.sum() > 2:
                sd[lab] = log_lib[in_label].std(ddof=1)
            for bat in range(shape[1]):
                cell = in_label & (batch == bat)
                n_cells[lab, bat] = cell.sum()
                if cell.any():
                    mean[lab, bat] = log_lib[cell].mean()
                if cell.sum() > 2:
                    sd[lab, bat] = log_lib[cell].std(ddof=1)
        return cls(labels_key, batch_key, list(labels), list(batches), n_cells, mean, sd)

    def codes(self, adata: AnnData) -> tuple[np.ndarray, np.ndarray]:
        """Integer label and batch codes of ``adata``'s cells in this grid's category order."""
        n = adata.n_obs
        li = (
            pd.Categorical(adata.obs[self.labels_key].astype(str), categories=self.labels).codes
            if self.labels_key
            else np.zeros(n, dtype=np.int8)
        )
        bi = (
            pd.Categorical(adata.obs[self.batch_key].astype(str), categories=self.batches).codes
            if self.batch_key
            else np.zeros(n, dtype=np.int8)
        )
        return np.asarray(li, dtype=np.int64), np.asarray(bi, dtype=np.int64)

    def sample_library(
        self, label: np.ndarray, batch: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Library sizes (total counts) for cells of the given codes, drawn log-normally."""
        mean = self.log_lib_mean[label, batch]
        sd = self.log_lib_sd[label, batch]
        return np.exp(mean + sd * rng.standard_normal(len(label)))

    def composition(
        self,
        n_cells: int | None,
        groups: Mapping | None,
        rng: np.random.Generator,
        *,
        unseen: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Label and batch codes of the cells to generate, after checking the request.

        ``n_cells=None`` and ``groups=None`` repeat the training grid; an integer ``n_cells``
        scales it (largest remainders keep the total exact); ``groups`` asks for counts per label,
        per ``(label, batch)`` pair, or per batch for a model without labels. ``unseen`` allows
        ``(label, batch)`` pairs without training cells, for models that can generate them.
        """
        if groups is not None and n_cells is not None:
            raise ValueError("Pass either `n_cells` or `groups`, not both.")
        if groups is None:
            counts = self._scaled_grid(n_cells)
        else:
            counts = self._grid_from_groups(groups, rng, unseen)
        label, batch = np.nonzero(counts)
        reps = counts[label, batch]
        return np.repeat(label, reps), np.repeat(batch, reps)

    def _scaled_grid(self, n_cells: int | None) -> np.ndarray:
        if n_cells is None:
            return self.n_cells.copy()
        if isinstance(n_cells, bool) or not isinstance(n_cells, int | np.integer) or n_cells < 1:
            raise ValueError(f"`n_cells` must be a positive integer or None, got {n_cells!r}.")
        share = self.n_cells.ravel() / self.n_cells.sum() * n_cells
        counts = np.floor(share).astype(np.int64)
        remainder = int(n_cells - counts.sum())
        # Stable ordering keeps the result the same for the same record and request.
        counts[np.argsort(-(share - counts), kind="stable")[:remainder]] += 1
        return counts.reshape(self.n_cells.shape)

    def _grid_from_groups(
        self, groups: Mapping, rng: np.random.Generator, unseen: bool
    ) -> np.ndarray:
        if not isinstance(groups, Mapping) or not groups:
            raise TypeError(
                "`groups` must be a non-empty dict such as {'B cell': 500} or "
                "{('B cell', 'batch1'): 500}."
            )
        if self.labels_key is None and self.batch_key is None:
            raise ValueError(
                "`groups` needs a model trained with `labels_key` or `batch_key`; this one was "
                "trained without either. Pass `n_cells` instead."
            )
        counts = np.zeros_like(self.n_cells)
        for key, n in groups.items():
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
                raise ValueError(f"`groups[{key!r}]` must be a non-negative integer, got {n!r}.")
            if isinstance(key, tuple):
                label, batch = self._pair(key)
                if self.n_cells[label, batch] == 0 and not unseen:
                    raise ValueError(
                        f"`groups` key {key!r}: the model saw no cells of this label in this "
                        "batch, so it has no library sizes for them."
                    )
                counts[label, batch] += n
            elif self.labels_key is not None:
                label = self._index(key, self.labels, "label")
                # Batches are drawn in the proportions this label had in training.
                share = self.n_cells[label] / self.n_cells[label].sum()
                counts[label] += rng.multinomial(n, share)
            else:
                counts[0, self._index(key, self.batches, "batch")] += n
        if counts.sum() == 0:
            raise ValueError("`groups` asks for no cells at all.")
        return counts

    def _pair(self, key: tuple) -> tuple[int, int]:
        if len(key) != 2 or self.labels_key is None or self.batch_key is None:
            raise ValueError(
                f"`groups` key {key!r}: (label, batch) pairs need a model trained with both "
                "`labels_key` and `batch_key`."
            )
        return self._index(key[0], self.labels, "label"), self._index(key[1], self.batches, "batch")

    @staticmethod
    def _index(value, categories: list[str], what: str) -> int:
        if str(value) not in categories:
            raise KeyError(f"Unknown {what} {value!r} in `groups`; the model knows {categories}.")
        return categories.index(str(value))

    def to_record(self) -> dict:
        """Return a plain dict that :mod:`anndata` writes to h5ad."""
        return {
            "labels_key": self.labels_key or "",
            "batch_key": self.batch_key or "",
            "labels": np.asarray(self.labels, dtype=object),
            "batches": np.asarray(self.batches, dtype=object),
            "n_cells": self.n_cells,
            "log_lib_mean": self.log_lib_mean,
            "log_lib_sd": self.log_lib_sd,
        }

    @classmethod
    def from_record(cls, record: Mapping) -> Conditions:
        """Inverse of :meth:`to_record`."""
        return cls(
            labels_key=str(record["labels_key"]) or None,
            batch_key=str(record["batch_key"]) or None,
            labels=[str(x) for x in np.asarray(record["labels"]).ravel()],
            batches=[str(x) for x in np.asarray(record["batches"]).ravel()],
            n_cells=np.asarray(record["n_cells"], dtype=np.int64),
            log_lib_mean=np.asarray(record["log_lib_mean"], dtype=np.float64),
            log_lib_sd=np.asarray(record["log_lib_sd"], dtype=np.float64),
        )
