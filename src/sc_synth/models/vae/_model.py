"""The conditional count VAE as an scvi-tools model: training, calibration, record, sampling."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import scvi
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.data.fields import CategoricalJointObsField
from scvi.model._utils import get_max_epochs_heuristic
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin, VAEMixin

from ..._docs import doc_params
from .._counts import negative_binomial_counts
from .._generator import GeneratorMixin, group_sums, registered_codes, row_blocks
from .._training import epochs_for_steps, training_run
from ._latent_prior import LatentPrior
from ._module import CountVAE

#: Model arguments a user may set through ``train_vae(**kwargs)``.
MODULE_OPTIONS = (
    "max_prior_codes",
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

#: Weight of the KL term after warm-up: at scvi-tools' 1 the latent space memorises the training
#: cells' counting noise, which new cells then inherit (see the generators page of the docs).
KL_WEIGHT = 6.0

#: Most gradient steps of the VAE with ``max_epochs=None``. scvi-tools' epoch heuristic takes
#: 28,000 steps on 10,000 cells and about 56,000 from 20,000 cells on: 40 minutes and more on two
#: CPU cores. The cap is the flow autoencoder's; it binds only above about 4,300 cells (PBMC and
#: the demo keep scvi-tools' 400 epochs). Measured on the Scale page of the docs.
DEFAULT_MAX_STEPS = 12_000


def kl_warmup_over(max_epochs: int, plan_kwargs: dict) -> dict:
    """``plan_kwargs`` with the KL term warmed up over ``max_epochs`` (at most 400), unless set.

    scvi-tools warms the KL term up over 400 epochs: a training capped below that would stop
    with the latent space under a fraction of the weight that keeps it smooth.
    """
    if "n_steps_kl_warmup" in plan_kwargs:
        return plan_kwargs
    return {"n_epochs_kl_warmup": min(max_epochs, 400), **plan_kwargs}


def default_max_epochs(n_obs: int, batch_size: int, train_size: float) -> int:
    """scvi-tools' epoch heuristic, capped at about :data:`DEFAULT_MAX_STEPS` steps."""
    n_train = math.ceil(train_size * n_obs)
    return min(
        get_max_epochs_heuristic(n_obs), epochs_for_steps(n_train, batch_size, DEFAULT_MAX_STEPS)
    )


@torch.inference_mode()
def decode(
    module: CountVAE, z: np.ndarray, label: np.ndarray, batch: np.ndarray, library: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Negative-binomial mean, dispersion and zero-inflation probability for latent codes."""
    px = module.decode(
        torch.as_tensor(z, dtype=torch.float32),
        torch.as_tensor(label),
        torch.as_tensor(batch),
        torch.as_tensor(np.log(library), dtype=torch.float32),
    )
    mu = px["mu"].double().numpy()
    zi = None if px["zi_logits"] is None else torch.sigmoid(px["zi_logits"]).double().numpy()
    return mu, np.broadcast_to(px["theta"].double().numpy(), mu.shape), zi


class VAEGenerator(GeneratorMixin, VAEMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """A count VAE conditioned on labels and batches, for generating new cells.

    The module is scvi-tools' :class:`~scvi.module.VAE` with the labels given twice: as labels,
    so the negative-binomial dispersion is fitted per gene and label, and as a categorical
    covariate, so encoder and decoder are conditioned on the cell type as well as the batch.
    After training (:meth:`train`), :meth:`calibrate` fits what generation draws from: the
    training cells' posteriors per label as the latent prior, and per label, batch and gene the
    mean factors and dispersions that make generated cells as expressed and as variable as the
    training cells. :func:`sc_synth.tl.train_vae` is the scanpy-style front of this class.

    Parameters
    ----------
    adata
        AnnData of raw counts registered with ``setup_anndata``, in memory or backed on
        disk: training and calibration read backed counts in blocks of rows.
    n_hidden, n_latent, n_layers, dropout_rate
        Network sizes and dropout, as in :class:`~scvi.model.SCVI`.
    dispersion
        ``"gene-label"`` (default with labels), ``"gene-batch"`` (default with batches only),
        ``"gene"`` or ``"gene-cell"``.
    gene_likelihood
        ``"nb"`` or ``"zinb"``.
    max_prior_codes
        Training cells per label whose posteriors the latent prior keeps (a random subset of
        larger labels), so that the record does not grow with the number of training cells.
    **module_kwargs
        Passed to :class:`~scvi.module.VAE`.

    Examples
    --------
    >>> import sc_synth as ss
    >>> adata = ss.datasets.pbmc68k_counts()  # doctest: +SKIP
    >>> ss.models.VAEGenerator.setup_anndata(adata, labels_key="bulk_labels")  # doctest: +SKIP
    >>> model = ss.models.VAEGenerator(adata)  # doctest: +SKIP
    >>> model.train(max_epochs=50)  # doctest: +SKIP
    >>> adata.uns["vae"] = model.to_uns()  # doctest: +SKIP
    """

    _module_cls = CountVAE
    _record_kind = "vae"

    def __init__(
        self,
        adata: AnnData,
        n_hidden: int = 128,
        n_latent: int = 10,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        dispersion: str | None = None,
        gene_likelihood: str = "nb",
        max_prior_codes: int = 2000,
        **module_kwargs,
    ):
        if (
            isinstance(max_prior_codes, bool)
            or not isinstance(max_prior_codes, Integral)
            or max_prior_codes < 1
        ):
            raise ValueError(
                f"`max_prior_codes` must be a positive integer, got {max_prior_codes!r}."
            )
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
        self.max_prior_codes = int(max_prior_codes)
        self._init_record()
        self.latent_prior_ = self.mean_factor_ = self.dispersion_ = None
        self._model_summary_string = (
            f"VAEGenerator: n_latent {n_latent}, n_hidden {n_hidden}, n_layers {n_layers}, "
            f"dispersion {dispersion}, gene_likelihood {gene_likelihood}."
        )
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    def _label_fields(cls, labels_key: str | None) -> list:
        """Register the labels as a categorical covariate too, for encoder and decoder."""
        if labels_key is None:
            return []
        return [CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, [labels_key])]

    def train(
        self,
        max_epochs: int | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        plan_kwargs: dict | None = None,
        **kwargs,
    ) -> None:
        """Train the VAE, then :meth:`calibrate` it with ``scvi.settings.seed``.

        Parameters
        ----------
        max_epochs
            Passes through the data; ``None`` uses scvi-tools' heuristic
            (:func:`scvi.model.get_max_epochs_heuristic`: 400 epochs up to 20,000 cells),
            capped at about 12,000 minibatches of the training cells (binding above about
            4,300 cells), with the KL warm-up (scvi-tools': 400 epochs) over all of them.
        accelerator, devices
            Passed to the Lightning trainer.
        plan_kwargs
            Passed to :class:`scvi.train.TrainingPlan`; ``max_kl_weight`` defaults to 6.
        **kwargs
            Passed to :meth:`scvi.model.base.UnsupervisedTrainingMixin.train` and the Lightning
            trainer. Below scanpy's verbosity ``"info"``, training prints nothing.

        Returns
        -------
        None
            Sets the trained weights, ``history`` and the calibration.
        """
        plan_kwargs = {"max_kl_weight": KL_WEIGHT, **(plan_kwargs or {})}
        if max_epochs is None:
            max_epochs = default_max_epochs(
                self.adata.n_obs, kwargs.get("batch_size", 128), kwargs.get("train_size") or 0.9
            )
            plan_kwargs = kl_warmup_over(max_epochs, plan_kwargs)
        with training_run("vae", self.adata, kwargs):
            super().train(
                max_epochs=max_epochs,
                accelerator=accelerator,
                devices=devices,
                plan_kwargs=plan_kwargs,
                **kwargs,
            )
            self.calibrate(seed=scvi.settings.seed)

    def calibrate(self, seed: int = 0) -> None:
        """Fit the latent prior, mean factors and dispersions that generation draws from.

        The latent prior is the training cells' posteriors per label (at most
        ``max_prior_codes`` of each). The decoder's mean over that prior misses the training
        cells' mean of a label and batch by a few per cent in every gene, which puts generated
        cells beside the real ones: a factor per label, batch and gene matches it to the
        training cells' mean. The trained dispersion absorbs the decoder's misfit and makes
        counts drawn from the prior far noisier than real cells: a dispersion per label and
        gene is fitted instead by the method of moments.

        Parameters
        ----------
        seed
            Seed of the prior's subsample and the draws that the fits average over.

        Returns
        -------
        None
            Sets ``latent_prior_``, ``mean_factor_`` (labels × batches × genes) and
            ``dispersion_`` (labels × genes).
        """
        self._check_if_trained(warn=False)
        self.module.eval().cpu()
        label, batch = registered_codes(self.adata_manager)
        qz_mean, qz_var = self.get_latent_representation(return_dist=True)
        prior = LatentPrior(qz_mean.astype(np.float64), np.sqrt(qz_var), label)
        self.latent_prior_ = prior.capped(self.max_prior_codes, np.random.default_rng(seed))
        # The counts are read in blocks of rows: an AnnData backed on disk is never loaded whole.
        counts = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        self.mean_factor_ = self._fit_mean_factor(counts, label, batch, seed)
        self.dispersion_ = self._fit_dispersion(counts, label, seed)

    def _fit_mean_factor(
        self,
        counts,
        label: np.ndarray,
        batch: np.ndarray,
        seed: int,
        n_draws: int = 500,
        pseudocount: float = 10.0,
    ) -> np.ndarray:
        """Factors per label, batch and gene that give generated cells the training cells' mean.

        The expected relative expression of each label and batch under the prior is matched to
        the training cells' (summed counts over summed library sizes); ``pseudocount`` expected
        counts on both sides keep the factor near 1 where the cells hold little evidence.
        Conditions without cells keep 1.
        """
        rng = np.random.default_rng(seed)
        conditions = self.conditions_
        n_labels, n_batches = len(conditions.labels), len(conditions.batches)
        totals = sum(
            group_sums(label[rows] * n_batches + batch[rows], n_labels * n_batches, block)
            for rows, block in row_blocks(counts)
        ).reshape(n_labels, n_batches, -1)
        factor = np.ones((n_labels, n_batches, counts.shape[1]))
        for lab, bat in zip(*np.nonzero(conditions.n_cells), strict=True):
            observed = totals[lab, bat]
            codes = np.full(n_draws, lab)
            # Library 1 makes the decoded mean the relative expression.
            scale, _, _ = decode(
                self.module,
                self.latent_prior_.sample(codes, rng),
                codes,
                np.full(n_draws, bat),
                np.ones(n_draws),
            )
            expected = observed.sum() * scale.mean(0)
            factor[lab, bat] = (observed + pseudocount) / (expected + pseudocount)
        return factor

    def _fit_dispersion(
        self, counts, label: np.ndarray, seed: int, n_draws: int = 500, shrinkage: float = 20.0
    ) -> np.ndarray:
        """Dispersions per label and gene that make generated counts as variable as the training cells.

        The variance of counts generated from the prior with the calibrated means,
        ``Var(mu) + E[mu] + E[mu²]/θ``, is matched to the training cells' variance per label and
        gene (method of moments); labels with few cells are shrunk toward the trained dispersion
        on the log scale.
        """
        rng = np.random.default_rng(seed)
        conditions = self.conditions_
        n_labels, n_genes = len(conditions.labels), counts.shape[1]
        sums = squares = 0.0
        for rows, block in row_blocks(counts):
            sums = sums + group_sums(label[rows], n_labels, block)
            squared = block.multiply(block) if sparse.issparse(block) else block**2
            squares = squares + group_sums(label[rows], n_labels, squared)
        n_real = np.bincount(label, minlength=n_labels)
        theta = np.empty((n_labels, n_genes))
        for lab in range(n_labels):
            n = n_real[lab]
            real_var = (squares[lab] - sums[lab] ** 2 / n) / (n - 1)
            share = conditions.n_cells[lab] / conditions.n_cells[lab].sum()
            batch = rng.choice(len(share), size=n_draws, p=share)
            codes = np.full(n_draws, lab)
            library = conditions.sample_library(codes, batch, rng)
            mu, trained, _ = decode(
                self.module, self.latent_prior_.sample(codes, rng), codes, batch, library
            )
            mu *= self.mean_factor_[codes, batch]
            excess = real_var - mu.var(0) - mu.mean(0)
            inv = np.maximum(excess, 0.0) / np.maximum((mu**2).mean(0), 1e-12)
            # Where the model alone is already as variable as the data, counts are near-Poisson.
            moments = 1.0 / np.maximum(inv, 1e-4)
            weight = n / (n + shrinkage)
            theta[lab] = np.exp(weight * np.log(moments) + (1 - weight) * np.log(trained.mean(0)))
        return theta

    def to_uns(self) -> dict:
        """Return the trained model as a record of plain values and arrays for ``adata.uns``.

        Returns
        -------
        dict
            ``kind`` (``"vae"``), ``record_version``, ``sc_synth_version``, ``init_params``
            (module arguments), ``setup`` (layer, keys, var_names, n_obs), ``conditions`` (label
            and batch order, cells and log-normal library sizes per label and batch),
            ``latent_prior``, ``mean_factor`` (labels × batches × genes), ``dispersion`` (labels
            × genes), ``weights`` (the state dict as arrays) and ``history`` (losses per epoch).
            :meth:`~anndata.AnnData.write_h5ad` stores it; :meth:`from_uns` reads it back.
        """
        if self.latent_prior_ is None:
            raise RuntimeError("The model is not calibrated; call `train` or `calibrate` first.")
        return self._record(
            latent_prior=self.latent_prior_.to_record(),
            mean_factor=self.mean_factor_,
            dispersion=self.dispersion_,
        )

    @classmethod
    @doc_params
    def from_uns(cls, record: Mapping) -> VAEGenerator:
        """Rebuild a trained model from its record (:meth:`to_uns`, or an older version's).

        Parameters
        ----------
        {doc_from_uns_record}

        Returns
        -------
        VAEGenerator
            {doc_from_uns_returns}
        """
        model = cls._from_record(record, cls._module_cls)
        model.latent_prior_ = LatentPrior.from_record(record["latent_prior"])
        model.mean_factor_ = np.asarray(record["mean_factor"], dtype=np.float64)
        model.dispersion_ = np.asarray(record["dispersion"], dtype=np.float64)
        return model

    @doc_params
    def sample(
        self, label: np.ndarray, batch: np.ndarray, library: np.ndarray, rng: np.random.Generator
    ) -> sparse.csr_matrix:
        """Draw new cells: latent prior → decoder → calibrated negative binomial.

        Parameters
        ----------
        {doc_sample_params}

        Returns
        -------
        {doc_sample_returns}
        """
        z = self.latent_prior_.sample(label, rng)
        mu, _, zi = decode(self.module, z, label, batch, library)
        mu *= self.mean_factor_[label, batch]
        counts = negative_binomial_counts(mu, self.dispersion_, label, rng)
        if zi is not None:
            rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            counts.data[rng.random(counts.nnz) < zi[rows, counts.indices]] = 0
            counts.eliminate_zeros()
        return counts
