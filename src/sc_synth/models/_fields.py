"""The AnnData fields every generator registers: counts, batches and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scvi import REGISTRY_KEYS
from scvi.data.fields import CategoricalObsField, LayerField

if TYPE_CHECKING:
    from scvi.data.fields import BaseAnnDataField


def count_fields(
    layer: str | None, batch_key: str | None, labels_key: str | None
) -> list[BaseAnnDataField]:
    """Fields for raw counts in ``layer`` (``X`` for ``None``), batches and labels."""
    return [
        LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=True),
        CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
        CategoricalObsField(REGISTRY_KEYS.LABELS_KEY, labels_key),
    ]
