"""Trained generators as plain records in ``adata.uns``: write, check and read back."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import __version__
from . import _registry

#: Bumped when the layout of a record changes; older readers refuse newer records. Version 4
#: left the GAN's critic out of its weights.
RECORD_VERSION = 4
#: The oldest record version this one reads.
OLDEST_READABLE = 3
_REQUIRED = ("kind", "record_version", "sc_synth_version", "init_params", "setup", "weights")


def weights_to_record(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """Return the module's state dict as numpy arrays (on the CPU)."""
    return {name: t.detach().cpu().numpy() for name, t in module.state_dict().items()}


def load_weights(module: torch.nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Load numpy weights into ``module``; a clear error when the record does not fit it."""
    state = {name: torch.as_tensor(np.asarray(value)) for name, value in weights.items()}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"The record's weights do not fit the model it describes (corrupted record?): {err}"
        ) from err


def history_to_record(history: Mapping[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Per-epoch training history (one array per logged quantity)."""
    return {
        name: np.asarray(frame.iloc[:, 0], dtype=np.float64)
        for name, frame in history.items()
        if len(frame.columns)
    }


def clean_params(params: Mapping) -> dict:
    """Init parameters without ``None`` values, which h5ad cannot store."""
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = np.asarray(value) if isinstance(value, list | tuple) else value
    return out


def read_record(adata: AnnData, key: str) -> Mapping:
    """``adata.uns[key]`` after checking it is a complete record this version can read."""
    if not isinstance(adata, AnnData):
        raise TypeError(f"`adata` must be an AnnData object, got {type(adata).__name__}.")
    if key not in adata.uns:
        models = [k for k, v in adata.uns.items() if isinstance(v, Mapping) and "kind" in v]
        raise KeyError(
            f"`key={key!r}` is not in adata.uns; trained models found there: {models or 'none'}. "
            "Train one with `ss.tl.train_vae` or `ss.tl.train_gan`."
        )
    record = adata.uns[key]
    if not isinstance(record, Mapping):
        raise ValueError(
            f"adata.uns[{key!r}] is not a model record (it is a {type(record).__name__})."
        )
    missing = [field for field in _REQUIRED if field not in record]
    if missing:
        raise ValueError(
            f"adata.uns[{key!r}] is not a complete model record (corrupted or partial): "
            f"missing {missing}."
        )
    kind = str(record["kind"])
    if kind not in _registry.record_kinds():
        raise ValueError(
            f"adata.uns[{key!r}] holds a model of kind {kind!r}; known kinds: "
            f"{_registry.record_kinds()}."
        )
    version = int(record["record_version"])
    if version > RECORD_VERSION:
        raise ValueError(
            f"adata.uns[{key!r}] was written by sc_synth {record['sc_synth_version']} (record "
            f"version {version}); this is sc_synth {__version__}, which reads up to version "
            f"{RECORD_VERSION}. Upgrade sc_synth."
        )
    if version < OLDEST_READABLE:
        # version 2 added the VAE's mean calibration and the GAN's overdispersion, version 3
        # gave the GAN's overdispersion one row per label: an older record lacks what
        # generation now needs
        raise ValueError(
            f"adata.uns[{key!r}] was written by sc_synth {record['sc_synth_version']} (record "
            f"version {version}); this is sc_synth {__version__}, which reads record versions "
            f"{OLDEST_READABLE} to {RECORD_VERSION}. Train the model again."
        )
    return record


def base_record(kind: str) -> dict:
    """Return the fields every record starts with."""
    return {"kind": kind, "record_version": RECORD_VERSION, "sc_synth_version": __version__}
