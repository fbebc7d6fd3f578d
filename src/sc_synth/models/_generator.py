"""What every generator model class shares: its conditions, its setup and its plain record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager

from ._conditions import Conditions
from ._fields import count_fields
from ._record import base_record, clean_params, history_to_record, load_weights, weights_to_record

#: Cells read at once by the passes over training counts, so that a matrix backed on disk is
#: read in blocks of rows, never whole.
ROW_BLOCK = 10_000


def row_blocks(counts) -> Iterator[tuple[slice, np.ndarray | sparse.csr_matrix]]:
    """Yield consecutive rows of ``counts`` (in memory or backed on disk) as ``float64`` blocks."""
    for start in range(0, counts.shape[0], ROW_BLOCK):
        rows = slice(start, min(start + ROW_BLOCK, counts.shape[0]))
        block = counts[rows]
        if sparse.issparse(block):
            yield rows, sparse.csr_matrix(block, dtype=np.float64)
        else:
            yield rows, np.asarray(block, dtype=np.float64)


def library_sizes(counts) -> np.ndarray:
    """Total counts of every cell of ``counts`` (in memory or backed on disk), read in blocks."""
    return np.concatenate(
        [np.asarray(block.sum(axis=1)).ravel() for _, block in row_blocks(counts)]
    )


def group_sums(codes: np.ndarray, n_groups: int, block) -> np.ndarray:
    """Sum the rows of ``block`` (dense or sparse) into ``n_groups`` groups by their ``codes``."""
    indicator = sparse.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes))
    )
    sums = indicator @ block
    return sums.toarray() if sparse.issparse(sums) else np.asarray(sums)


def check_training_counts(adata: AnnData, layer: str | None) -> None:
    """Refuse, before any work, counts that training cannot read.

    A backed AnnData whose file is no longer where it was opened, an AnnData without counts
    in ``X`` and no ``layer`` given, and one read lazily (``anndata.experimental.read_lazy``:
    dask arrays, an xarray ``obs``) raise, each saying what to do instead. A missing ``layer``
    is left to the caller's own check.
    """
    if not isinstance(adata, AnnData):
        return
    if adata.isbacked and not adata.filename.exists():
        raise FileNotFoundError(
            f"`adata` is backed by {str(adata.filename)!r}, which no longer exists (moved or "
            "deleted); open the file where it is now, e.g. with "
            "`anndata.read_h5ad(path, backed='r')`."
        )
    if layer is None and adata.X is None:
        raise ValueError(
            "`layer=None` trains on adata.X, which holds no counts (None): the AnnData, or the "
            "store it was read from, has no X. Pass `layer` naming the layer that holds the "
            f"counts (layers: {sorted(adata.layers.keys()) or 'none'})."
        )
    if not isinstance(adata.obs, pd.DataFrame):
        raise TypeError(
            f"adata.obs is a {type(adata.obs).__name__}, not a DataFrame: training reads counts "
            "in memory or backed on disk, not an AnnData read lazily "
            "(`anndata.experimental.read_lazy`, whose arrays are dask's). Open an .h5ad file with "
            "`anndata.read_h5ad(path, backed='r')`; for a zarr store, give its counts with "
            "`anndata.io.sparse_dataset(zarr.open_group(path)['X'])` and its obs with "
            "`anndata.io.read_elem(zarr.open_group(path)['obs'])`."
        )


def registered_codes(manager: AnnDataManager) -> tuple[np.ndarray, np.ndarray]:
    """Label and batch code of every registered cell, in the registry's category order."""
    return tuple(
        np.asarray(manager.get_from_registry(key)).ravel().astype(np.int64)
        for key in (REGISTRY_KEYS.LABELS_KEY, REGISTRY_KEYS.BATCH_KEY)
    )


def registered_counts(manager: AnnDataManager):
    """Return the registered count matrix as registered: in memory, or backed on disk.

    Passes over it read blocks of rows (:func:`row_blocks`), so that backed counts are never
    loaded whole.
    """
    return manager.get_from_registry(REGISTRY_KEYS.X_KEY)


class GeneratorMixin:
    """Record plumbing of the generator model classes (``to_uns`` / ``from_uns``).

    A subclass sets ``_record_kind``, stores its module's arguments in ``module_params`` and
    calls :meth:`_init_record` once its AnnData is registered.
    """

    _record_kind: str
    module_params: dict

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
    ) -> None:
        """Register counts, batches and labels of ``adata`` for the model.

        Parameters
        ----------
        adata
            AnnData of raw counts, in memory or backed on disk (an ``.h5ad`` file opened with
            ``backed="r"``, a zarr store such as :func:`.pp.simulate` writes with
            ``out``); backed counts are read in blocks of rows, by scvi-tools' data loaders in
            training. A backed AnnData whose file has moved raises :class:`FileNotFoundError`,
            one without counts (``X`` empty and no ``layer``) :class:`ValueError`, one read
            lazily (:func:`anndata.experimental.read_lazy`) :class:`TypeError`.
        layer
            Layer holding the counts; ``None`` uses ``adata.X``.
        batch_key
            Column of ``adata.obs`` with batches.
        labels_key
            Column of ``adata.obs`` with cell types.

        Returns
        -------
        None
            Registers ``adata`` with an :class:`~scvi.data.AnnDataManager`, which writes its
            ``_scvi_*`` columns into ``adata.obs`` and ``adata.uns["_scvi_uuid"]`` and
            ``adata.uns["_scvi_manager_uuid"]``.
        """
        check_training_counts(adata, layer)
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = count_fields(layer, batch_key, labels_key) + cls._label_fields(labels_key)
        manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        manager.register_fields(adata)
        cls.register_manager(manager)

    @classmethod
    def _label_fields(cls, labels_key: str | None) -> list:
        """Further fields that carry the labels to the module; none by default."""
        return []

    def _init_record(self, library: np.ndarray | None = None) -> None:
        """Fit the label × batch grid and note the setup, from the registered AnnData.

        ``library``, the training cells' library sizes, spares a pass over the counts.
        """
        manager = self.adata_manager
        args = manager.registry["setup_args"]
        labels_key, batch_key = args.get("labels_key"), args.get("batch_key")
        mapping = {
            key: [str(c) for c in manager.get_state_registry(key).categorical_mapping]
            for key in (REGISTRY_KEYS.LABELS_KEY, REGISTRY_KEYS.BATCH_KEY)
        }
        if library is None:
            library = library_sizes(registered_counts(manager))
        self.conditions_ = Conditions.from_codes(
            labels_key,
            batch_key,
            mapping[REGISTRY_KEYS.LABELS_KEY] if labels_key else [""],
            mapping[REGISTRY_KEYS.BATCH_KEY] if batch_key else [""],
            *registered_codes(manager),
            library,
        )
        self.setup_ = {
            "layer": args.get("layer") or "",
            "labels_key": labels_key or "",
            "batch_key": batch_key or "",
            "var_names": np.asarray(self.adata.var_names, dtype=object),
            "n_obs": self.adata.n_obs,
        }
        self.history_record_ = None

    def _record(self, **fields) -> dict:
        """Return the kind's record: shared fields, then ``fields``, then weights and history."""
        self._check_if_trained(warn=False)
        record = base_record(self._record_kind)
        history = self.history_record_ if self.history_ is None else history_to_record(self.history)
        record.update(
            init_params=clean_params(self.module_params),
            setup=self.setup_,
            conditions=self.conditions_.to_record(),
            **fields,
            weights=weights_to_record(self.module),
            history=history,
        )
        return record

    @classmethod
    def _from_record(cls, record: Mapping, module_cls: type[torch.nn.Module]):
        """Return a model holding the record's trained module, in evaluation mode, without AnnData.

        It samples and writes its record again; training it further needs an AnnData.
        """
        params = dict(record["init_params"])
        for key, value in params.items():
            if isinstance(value, np.generic):
                params[key] = value.item()
            elif isinstance(value, np.ndarray):
                # h5ad gives lists (e.g. categories per covariate) back as arrays.
                params[key] = value.ravel().tolist()
        try:
            module = module_cls(**params)
        except TypeError as err:
            raise ValueError(
                f"The record's init_params do not describe a {cls.__name__}: {err}"
            ) from err
        load_weights(module, record["weights"])
        model = cls.__new__(cls)
        # No AnnData to register: the base class's state is what a trained model has.
        model.id, model.is_trained_, model.history_ = None, True, None
        model._model_summary_string = f"{cls.__name__} rebuilt from its record."
        model._adata = model._adata_manager = None
        model.module = module.eval()
        model.module_params = params
        model.conditions_ = Conditions.from_record(record["conditions"])
        model.setup_ = dict(record["setup"])
        model.history_record_ = dict(record.get("history", {}))
        return model
