"""The count VAE's network: scvi-tools' VAE with the labels as a covariate too."""

from __future__ import annotations

import torch
from scvi.module import VAE


class CountVAE(VAE):
    """:class:`scvi.module.VAE` that decodes latent codes of chosen labels, batches and libraries.

    With ``n_cats_per_cov=[n_labels]`` the labels enter twice: as labels, so the dispersion can
    be fitted per gene and label, and as a categorical covariate, so encoder and decoder are
    conditioned on the cell type as well as the batch. All arguments are those of
    :class:`~scvi.module.VAE`.
    """

    def __init__(self, n_input: int, n_cats_per_cov: list[int] | None = None, **kwargs):
        super().__init__(n_input, n_cats_per_cov=n_cats_per_cov, **kwargs)
        self.label_covariate = bool(n_cats_per_cov)

    @torch.inference_mode()
    def decode(
        self, z: torch.Tensor, label: torch.Tensor, batch: torch.Tensor, log_library: torch.Tensor
    ) -> dict[str, torch.Tensor | None]:
        """Negative-binomial mean, dispersion and zero-inflation logits for latent codes.

        Parameters
        ----------
        z
            Latent codes, cells × ``n_latent``.
        label, batch
            Codes of each cell's label and batch.
        log_library
            Log library sizes (total counts).

        Returns
        -------
        dict
            ``mu`` (cells × genes), ``theta`` (genes, or cells × genes for ``"gene-cell"``
            and the label- and batch-wise dispersions) and ``zi_logits`` (``None`` unless the
            likelihood is ``"zinb"``).
        """
        y = label.reshape(-1, 1)
        px = self.generative(
            z=z,
            library=log_library.reshape(-1, 1),
            batch_index=batch.reshape(-1, 1),
            cat_covs=y if self.label_covariate else None,
            y=y,
        )["px"]
        zi_logits = px.zi_logits if self.gene_likelihood == "zinb" else None
        return {"mu": px.mu, "theta": px.theta, "zi_logits": zi_logits}
