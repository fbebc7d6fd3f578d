"""The conditional count VAE: an scvi-tools model around :class:`scvi.module.VAE`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data.fields import CategoricalJointObsField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin, VAEMixin
from scvi.module import VAE

from ._conditions import Conditions
from ._counts import negative_binomial_counts
from ._fields import count_fields
from ._latent_prior import LatentPrior
from ._record import load_weights

#: Module arguments a user may set through ``train_vae(**kwargs)``.
MODULE_OPTIONS = (
    "n_hidden",
    "n_latent",
    "n_layers",
    "dropout_rate",
    "dispersion",
    "gene_likelihood",
    "latent_distribution",
    "use_batch_norm",
    "use_layer_norm",
)

#: Weight of the KL term after warm-up. At scvi-tools' 1, the latent space memorises the counting
#: noise of the training cells (on Splat data, which has no structure within a label and batch,
#: all 10 dimensions stay active with posterior variances of 0.03); decoded for new cells, that
#: noise spreads them along directions real cells do not vary in. A heavier KL term keeps what
#: pays for its cost in many genes at once (cell states), not the noise of single cells.
KL_WEIGHT = 6.0


class VAEGenerator(VAEMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """A count VAE conditioned on labels and batches, for generating new cells.

    The module is scvi-tools' :class:`~scvi.module.VAE` with the labels given twice: as labels,
    so the negative-binomial dispersion is fitted per gene and label (one dispersion across cell
    types absorbs the misfit of every type and makes all samples too noisy), and as a categorical
    covariate, so encoder and decoder are conditioned on the cell type as well as the batch.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    n_hidden, n_latent, n_layers, dropout_rate
        Network sizes, as in :class:`~scvi.model.SCVI`.
    dispersion
        ``"gene-label"`` (default with labels), ``"gene-batch"`` (default with batches only),
        ``"gene"`` or ``"gene-cell"``.
    gene_likelihood
        ``"nb"`` (default) or ``"zinb"``.
    **module_kwargs
        Passed to :class:`~scvi.module.VAE`.
    """

    _module_cls = VAE

    def __init__(
        self,
        adata: AnnData,
        n_hidden: int = 128,
        n_latent: int = 10,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        dispersion: str | None = None,
        gene_likelihood: str = "nb",
        **module_kwargs,
    ):
        super().__init__(adata)
        has_labels = REGISTRY_KEYS.CAT_COVS_KEY in self.adata_manager.data_registry
        n_labels = self.summary_stats.n_labels
        n_batch = self.summary_stats.n_batch
        if dispersion is None:
            dispersion = "gene-label" if has_labels else "gene-batch" if n_batch > 1 else "gene"
        self.module_params = {
            "n_input": self.summary_stats.n_vars,
            "n_batch": n_batch,
            "n_labels": n_labels,
            "n_cats_per_cov": [n_labels] if has_labels else None,
            "n_hidden": n_hidden,
            "n_latent": n_latent,
            "n_layers": n_layers,
            "dropout_rate": dropout_rate,
            "dispersion": dispersion,
            "gene_likelihood": gene_likelihood,
            # The encoder sees batch and label, so the latent space holds what varies within them.
            "encode_covariates": True,
            **module_kwargs,
        }
        self.module = self._module_cls(**self.module_params)
        self._model_summary_string = (
            f"VAEGenerator: n_latent {n_latent}, n_hidden {n_hidden}, n_layers {n_layers}, "
            f"dispersion {dispersion}, gene_likelihood {gene_likelihood}."
        )
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
    ) -> None:
        """Register counts, batches and labels of ``adata`` with an :class:`~scvi.data.AnnDataManager`."""
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = count_fields(layer, batch_key, labels_key)
        if labels_key is not None:
            fields.append(CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, [labels_key]))
        manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        manager.register_fields(adata)
        cls.register_manager(manager)

    def fit_latent_prior(self, label: np.ndarray) -> LatentPrior:
        """Collect the training cells' posteriors as the per-label generation prior."""
        qz_mean, qz_var = self.get_latent_representation(return_dist=True)
        return LatentPrior(qz_mean.astype(np.float64), np.sqrt(qz_var), label)


@torch.inference_mode()
def decode(
    module: VAE, z: np.ndarray, label: np.ndarray, batch: np.ndarray, library: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Negative-binomial mean, dispersion and zero-inflation probability for latent codes."""
    # The decoder's categorical inputs are the batch, then the labels when they were registered.
    label_covariate = len(module.decoder.px_decoder.n_cat_list) > 1
    y = torch.as_tensor(label[:, None])
    px = module.generative(
        z=torch.as_tensor(z, dtype=torch.float32),
        library=torch.as_tensor(np.log(library)[:, None], dtype=torch.float32),
        batch_index=torch.as_tensor(batch[:, None]),
        cat_covs=y if label_covariate else None,
        y=y,
    )["px"]
    zi = torch.sigmoid(px.zi_logits).double().numpy() if module.gene_likelihood == "zinb" else None
    theta = np.broadcast_to(px.theta.double().numpy(), px.mu.shape)
    return px.mu.double().numpy(), theta, zi


def calibrate_mean(
    module: VAE,
    prior: LatentPrior,
    conditions: Conditions,
    counts,
    label: np.ndarray,
    batch: np.ndarray,
    *,
    n_draws: int = 500,
    pseudocount: float = 10.0,
    seed: int = 0,
) -> np.ndarray:
    """Factors per label, batch and gene that give generated cells the training cells' mean.

    The decoder's mean over the latent prior is not the mean of the training cells of a label and
    batch: it is learnt slowly, through a network shared by all conditions, and the prior draws
    codes the decoder saw only approximately. Off by a few per cent in every gene, the
    generated cells sit beside the real ones in expression space, which on data without
    structure inside a condition costs most of the precision. Here the expected relative
    expression of each label and batch under the prior is matched to the training cells'
    (summed counts over summed library sizes); ``pseudocount`` expected counts on both sides
    keep the factor near 1 where the cells hold little evidence. Conditions without cells keep 1.
    """
    rng = np.random.default_rng(seed)
    factor = np.ones((len(conditions.labels), len(conditions.batches), counts.shape[1]))
    for lab, bat in zip(*np.nonzero(conditions.n_cells), strict=True):
        real = counts[(label == lab) & (batch == bat)]
        observed = np.asarray(real.sum(0), dtype=np.float64).ravel()
        codes = np.full(n_draws, lab)
        # Library 1 makes the decoded mean the relative expression.
        scale, _, _ = decode(
            module, prior.sample(codes, rng), codes, np.full(n_draws, bat), np.ones(n_draws)
        )
        expected = observed.sum() * scale.mean(0)
        factor[lab, bat] = (observed + pseudocount) / (expected + pseudocount)
    return factor


def calibrate_dispersion(
    module: VAE,
    prior: LatentPrior,
    conditions: Conditions,
    counts,
    label: np.ndarray,
    mean_factor: np.ndarray,
    *,
    n_draws: int = 500,
    shrinkage: float = 20.0,
    seed: int = 0,
) -> np.ndarray:
    """Dispersions per label and gene that make generated counts as variable as the training cells.

    The likelihood's dispersion is fitted with ``z`` drawn from each cell's own posterior, so it
    absorbs how poorly the decoder fits and makes samples from the prior far noisier than real
    cells. Here the variance of counts generated from the prior, with means scaled by
    ``mean_factor`` (:func:`calibrate_mean`), ``Var(mu) + E[mu] + E[mu²]/θ``, is matched to the
    training cells' variance per label and gene (method of moments); labels with few cells are
    shrunk toward the trained dispersion on the log scale.
    """
    rng = np.random.default_rng(seed)
    n_labels, n_genes = len(conditions.labels), counts.shape[1]
    theta = np.empty((n_labels, n_genes))
    for lab in range(n_labels):
        real = counts[label == lab]
        real = real.toarray() if hasattr(real, "toarray") else np.asarray(real)
        share = conditions.n_cells[lab] / conditions.n_cells[lab].sum()
        batch = rng.choice(len(share), size=n_draws, p=share)
        codes = np.full(n_draws, lab)
        library = conditions.sample_library(codes, batch, rng)
        mu, trained, _ = decode(module, prior.sample(codes, rng), codes, batch, library)
        mu *= mean_factor[codes, batch]
        excess = real.var(0, ddof=1) - mu.var(0) - mu.mean(0)
        inv = np.maximum(excess, 0.0) / np.maximum((mu**2).mean(0), 1e-12)
        # Where the model alone is already as variable as the data, counts are near-Poisson.
        moments = 1.0 / np.maximum(inv, 1e-4)
        weight = len(real) / (len(real) + shrinkage)
        theta[lab] = np.exp(weight * np.log(moments) + (1 - weight) * np.log(trained.mean(0)))
    return theta


class VAESampler:
    """Draws counts from a VAE record: latent prior → decoder → negative binomial."""

    def __init__(self, record: Mapping):
        params = dict(record["init_params"])
        if "n_cats_per_cov" in params:
            params["n_cats_per_cov"] = [
                int(n) for n in np.asarray(params["n_cats_per_cov"]).ravel()
            ]
        for key, value in params.items():
            if isinstance(value, np.generic):
                params[key] = value.item()
        try:
            self.module = VAE(**params)
        except TypeError as err:
            raise ValueError(f"The record's init_params do not describe a VAE: {err}") from err
        load_weights(self.module, record["weights"])
        self.module.eval()
        self.prior = LatentPrior.from_record(record["latent_prior"])
        self.theta = np.asarray(record["dispersion"], dtype=np.float64)
        self.mean_factor = np.asarray(record["mean_factor"], dtype=np.float64)

    def sample(
        self, label: np.ndarray, batch: np.ndarray, library: np.ndarray, rng: np.random.Generator
    ) -> sparse.csr_matrix:
        """Integer counts (cells × genes, CSR) for cells with the given codes and library sizes."""
        mu, _, zi = decode(self.module, self.prior.sample(label, rng), label, batch, library)
        mu *= self.mean_factor[label, batch]
        counts = negative_binomial_counts(mu, self.theta, label, rng)
        if zi is not None:
            rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            counts.data[rng.random(counts.nnz) < zi[rows, counts.indices]] = 0
            counts.eliminate_zeros()
        return counts
