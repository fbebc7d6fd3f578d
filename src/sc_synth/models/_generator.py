"""What every generator model class shares: its conditions, its setup and its plain record."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager

from ._conditions import Conditions
from ._fields import count_fields
from ._record import base_record, clean_params, history_to_record, load_weights, weights_to_record


def registered_codes(manager: AnnDataManager) -> tuple[np.ndarray, np.ndarray]:
    """Label and batch code of every registered cell, in the registry's category order."""
    return tuple(
        np.asarray(manager.get_from_registry(key)).ravel().astype(np.int64)
        for key in (REGISTRY_KEYS.LABELS_KEY, REGISTRY_KEYS.BATCH_KEY)
    )


def registered_counts(manager: AnnDataManager):
    """Return the registered count matrix (sparse as CSR, dense as it is)."""
    counts = manager.get_from_registry(REGISTRY_KEYS.X_KEY)
    return sparse.csr_matrix(counts) if sparse.issparse(counts) else counts


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
            AnnData of raw counts.
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
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = count_fields(layer, batch_key, labels_key) + cls._label_fields(labels_key)
        manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        manager.register_fields(adata)
        cls.register_manager(manager)

    @classmethod
    def _label_fields(cls, labels_key: str | None) -> list:
        """Further fields that carry the labels to the module; none by default."""
        return []

    def _init_record(self) -> None:
        """Fit the label × batch grid and note the setup, from the registered AnnData."""
        manager = self.adata_manager
        args = manager.registry["setup_args"]
        labels_key, batch_key = args.get("labels_key"), args.get("batch_key")
        mapping = {
            key: [str(c) for c in manager.get_state_registry(key).categorical_mapping]
            for key in (REGISTRY_KEYS.LABELS_KEY, REGISTRY_KEYS.BATCH_KEY)
        }
        counts = manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        self.conditions_ = Conditions.from_codes(
            labels_key,
            batch_key,
            mapping[REGISTRY_KEYS.LABELS_KEY] if labels_key else [""],
            mapping[REGISTRY_KEYS.BATCH_KEY] if batch_key else [""],
            *registered_codes(manager),
            np.asarray(counts.sum(axis=1), dtype=np.float64).ravel(),
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
