"""The flow generator: an scvi-tools model around ``FlowModule``, its calibration and record."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
import scvi
import torch
from anndata import AnnData
from scipy import sparse
from scvi.model import SCVI
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from ..._docs import doc_params
from .._counts import negative_binomial_counts
from .._generator import (
    GeneratorMixin,
    group_sums,
    registered_codes,
    registered_counts,
    row_blocks,
)
from .._record import clean_params, history_to_record, load_weights, weights_to_record
from .._training import training_run
from ..vae._model import KL_WEIGHT, decode, kl_warmup_over
from ._module import FlowModule
from ._settings import (
    DEFAULT_GUIDANCE,
    DEFAULT_N_STEPS,
    check_sampling,
    default_autoencoder_epochs,
    default_max_epochs,
)

# What sampling needs beyond the fields every record has.
_FLOW_FIELDS = ("sampling", "mean_factor", "dispersion")


def additive_fill(values: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``values`` (labels × batches × …) with unseen label × batch cells filled additively.

    Fitted on the ``seen`` cells of the grid by alternating means: ``value = label effect + batch
    effect``, as a batch that sequences deeper, or shifts a gene, does so for every label.
    """
    if seen.all():
        return values
    mask = seen.reshape(seen.shape + (1,) * (values.ndim - 2))
    observed = np.where(mask, values, np.nan)
    label_effect = np.zeros(values.shape[:1] + values.shape[2:])
    batch_effect = np.zeros(values.shape[1:])
    for _ in range(20):
        label_effect = np.nanmean(observed - batch_effect[None], axis=1)
        batch_effect = np.nanmean(observed - label_effect[:, None], axis=0)
    return np.where(mask, values, label_effect[:, None] + batch_effect[None])


class FlowGenerator(GeneratorMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Conditional flow matching in the latent space of a count autoencoder.

    The autoencoder is scvi-tools' :class:`~scvi.module.VAE` with the batch as its covariate (see
    :meth:`train_autoencoder`), or a ``vae`` record's, which also reads the label. A velocity
    field (``FlowModule``) learns to carry Gaussian noise to
    the autoencoder's latent codes given label and batch, each embedded apart; new cells
    integrate it from fresh noise and decode to negative-binomial counts. Unlike the VAE kind, no
    training cell's code is kept, and a label can be generated in a batch it was never seen in.

    Parameters
    ----------
    adata
        AnnData registered with ``setup_anndata``.
    autoencoder
        The trained autoencoder: ``{"init_params": …, "weights": …}`` of a
        ``CountVAE``, as :meth:`train_autoencoder` returns or
        a ``vae`` record holds.
    n_hidden, n_layers, n_embed, p_uncond
        Velocity field sizes and condition dropout (see
        ``FlowModule``).
    """

    _module_cls = FlowModule
    _record_kind = "flow"
    #: Whether a label can be made in a batch it had no cells in (labels and batches are embedded apart).
    generates_unseen = True

    def __init__(
        self,
        adata: AnnData,
        autoencoder: Mapping,
        n_hidden: int = 256,
        n_layers: int = 3,
        n_embed: int = 16,
        p_uncond: float = 0.2,
    ):
        super().__init__(adata)
        self.module_params = {
            "autoencoder": dict(autoencoder["init_params"]),
            "n_labels": self.summary_stats.n_labels,
            "n_batch": self.summary_stats.n_batch,
            "n_hidden": n_hidden,
            "n_layers": n_layers,
            "n_embed": n_embed,
            "p_uncond": p_uncond,
        }
        self.module = self._module_cls(**self.module_params)
        load_weights(self.module.autoencoder, autoencoder["weights"])
        self.autoencoder_history_ = dict(autoencoder.get("history", {}))
        self.guidance, self.n_steps = DEFAULT_GUIDANCE, DEFAULT_N_STEPS
        self._init_record()
        self.mean_factor_ = self.dispersion_ = None
        self._model_summary_string = (
            f"FlowGenerator: n_latent {self.module.n_latent}, n_hidden {n_hidden}, "
            f"n_layers {n_layers}, p_uncond {p_uncond}."
        )
        self.init_params_ = self._get_init_params(locals())

    @staticmethod
    def train_autoencoder(
        adata: AnnData,
        *,
        labels_key: str | None = None,
        batch_key: str | None = None,
        max_epochs: int | None = None,
        module_kwargs: Mapping | None = None,
        plan_kwargs: Mapping | None = None,
        **train_kwargs,
    ) -> dict:
        """Train the autoencoder: scvi-tools' :class:`~scvi.model.SCVI` with the batch as covariate.

        Encoder and decoder see the batch, not the label, so the latent space holds the cell
        type and the decoder adds the batch: a label's codes decode in any batch. Labels set the
        dispersion per gene and label. Sizes, likelihood, the KL weight of 6 and, with
        ``max_epochs=None``, its warm-up over the epochs trained are the VAE kind's
        (:class:`~sc_synth.models.VAEGenerator`).

        Returns
        -------
        dict
            ``init_params`` and ``weights`` of the equivalent
            ``CountVAE`` and the training ``history``: what
            :class:`FlowGenerator` takes.
        """
        SCVI.setup_anndata(adata, labels_key=labels_key, batch_key=batch_key)
        n_batch = adata.obs[batch_key].nunique() if batch_key else 1
        params = {
            "n_hidden": 128,
            "n_latent": 10,
            "n_layers": 1,
            "dropout_rate": 0.1,
            "dispersion": "gene-label" if labels_key else "gene-batch" if n_batch > 1 else "gene",
            "gene_likelihood": "nb",
            "encode_covariates": True,
            **(module_kwargs or {}),
        }
        model = SCVI(adata, **params)
        plan_kwargs = {"max_kl_weight": KL_WEIGHT, **(plan_kwargs or {})}
        if max_epochs is None:
            batch_size = train_kwargs.get("batch_size", 128)
            max_epochs = default_autoencoder_epochs(adata.n_obs, batch_size)
            plan_kwargs = kl_warmup_over(max_epochs, plan_kwargs)
        with training_run("flow autoencoder", adata, train_kwargs):
            model.train(max_epochs=max_epochs, plan_kwargs=plan_kwargs, **train_kwargs)
        stats = model.summary_stats
        shape = {"n_input": stats.n_vars, "n_batch": stats.n_batch, "n_labels": stats.n_labels}
        return {
            "init_params": clean_params({**shape, **params}),
            "weights": weights_to_record(model.module),
            "history": history_to_record(model.history),
        }

    def train(
        self,
        max_epochs: int | None = None,
        batch_size: int = 128,
        train_size: float = 1.0,
        **kwargs,
    ) -> None:
        """Train the velocity field, then :meth:`calibrate` with ``scvi.settings.seed``.

        Parameters
        ----------
        max_epochs
            Passes through the data; ``None`` gives about ``DEFAULT_FLOW_STEPS`` steps.
        batch_size
            Cells per step.
        train_size
            Share of the cells that train; by default all: the loss, over fresh noise and times
            at every step, is no guide to stop early.
        **kwargs
            Passed to :meth:`scvi.model.base.UnsupervisedTrainingMixin.train` and the Lightning
            trainer.

        Returns
        -------
        None
            Sets the trained weights, ``history`` and the calibration.
        """
        if max_epochs is None:
            max_epochs = default_max_epochs(math.ceil(train_size * self.adata.n_obs), batch_size)
        with training_run("flow", self.adata, kwargs), warnings.catch_warnings():
            # The frozen autoencoder stays in evaluation mode on purpose.
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
            super().train(
                max_epochs=max_epochs, batch_size=batch_size, train_size=train_size, **kwargs
            )
            self.calibrate(seed=scvi.settings.seed)

    def codes(self, label: np.ndarray, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Latent codes (``float32``) for cells of the given label and batch codes, from noise drawn by ``rng``."""
        z0 = rng.standard_normal((len(label), self.module.n_latent)).astype(np.float32)
        z = self.module.sample(
            torch.as_tensor(z0),
            torch.as_tensor(label),
            torch.as_tensor(batch),
            n_steps=self.n_steps,
            guidance=self.guidance,
        )
        return z.numpy()

    def calibrate(
        self,
        *,
        n_draws: int = 500,
        pseudocount: float = 1.0,
        shrinkage: float = 20.0,
        seed: int = 0,
    ) -> None:
        """Fit the means and dispersions of generated counts to the training cells.

        As for the VAE kind (:meth:`~sc_synth.models.VAEGenerator.calibrate`), with codes from
        the flow: per label, batch and gene a factor that makes the decoded mean of ``n_draws``
        generated cells the training cells' mean, and per label and gene the dispersion that
        makes their counts as variable as the training cells'. For a label × batch pair without
        training cells, the target mean expression and the log library size add the label's and
        the batch's effects (``additive_fill``).

        Parameters
        ----------
        n_draws
            Generated cells per label and batch that each fit averages over.
        pseudocount
            Counts added to the summed training counts and the expected ones of each label,
            batch and gene; they keep a factor near 1 where the cells hold little evidence. One
            count, not the VAE kind's ten: the decoder, which does not read the label, flattens a
            label's markers (the DE log-fold-change slope of decoded cells against the training
            cells' is about 0.8), and ten counts left much of that where a small label has
            few counts.
        shrinkage
            Cells at which a label's dispersion weighs the fitted moments and the trained
            dispersion equally.
        seed
            Seed of the generated cells.

        Returns
        -------
        None
            Sets ``mean_factor_`` (labels × batches × genes), ``dispersion_`` (labels × genes)
            and the library sizes of unseen pairs in ``conditions_``.
        """
        self._check_if_trained(warn=False)
        self.module.eval().cpu()
        rng = np.random.default_rng(seed)
        counts = registered_counts(self.adata_manager)
        label, batch = registered_codes(self.adata_manager)
        conditions = self.conditions_
        module = self.module.autoencoder
        n_labels, n_batches = conditions.n_cells.shape
        seen = conditions.n_cells > 0
        # Summed and squared counts per label and batch, read in blocks of rows: counts backed
        # on disk are never loaded whole.
        observed = squares = 0.0
        for rows, block in row_blocks(counts):
            codes = label[rows] * n_batches + batch[rows]
            squared = block.multiply(block) if sparse.issparse(block) else block**2
            observed = observed + group_sums(codes, n_labels * n_batches, block)
            squares = squares + group_sums(codes, n_labels * n_batches, squared)
        observed = observed.reshape(n_labels, n_batches, -1)
        squares = squares.reshape(n_labels, n_batches, -1).sum(1)
        totals = np.where(seen, observed.sum(2), observed.sum(2)[seen].mean())
        # Without cells, a pair's expression adds the label's and the batch's log effects.
        relative = np.log(observed + pseudocount) - np.log(totals[..., None])
        relative = np.exp(additive_fill(relative, seen))
        target = np.where(seen[..., None], observed, totals[..., None] * relative)
        factor = np.ones_like(observed)
        for lab, bat in np.ndindex(n_labels, n_batches):
            codes, batches = np.full(n_draws, lab), np.full(n_draws, bat)
            # Library 1 makes the decoded mean the relative expression.
            scale, _, _ = decode(
                module, self.codes(codes, batches, rng), codes, batches, np.ones(n_draws)
            )
            expected = totals[lab, bat] * scale.mean(0)
            factor[lab, bat] = (target[lab, bat] + pseudocount) / (expected + pseudocount)

        theta = np.empty((n_labels, counts.shape[1]))
        sums, n_real = observed.sum(1), np.bincount(label, minlength=n_labels)
        for lab in range(n_labels):
            n = n_real[lab]
            real_var = (squares[lab] - sums[lab] ** 2 / n) / (n - 1)
            share = conditions.n_cells[lab] / conditions.n_cells[lab].sum()
            batches = rng.choice(n_batches, size=n_draws, p=share)
            codes = np.full(n_draws, lab)
            library = conditions.sample_library(codes, batches, rng)
            mu, trained, _ = decode(
                module, self.codes(codes, batches, rng), codes, batches, library
            )
            mu *= factor[codes, batches]
            excess = real_var - mu.var(0) - mu.mean(0)
            inv = np.maximum(excess, 0.0) / np.maximum((mu**2).mean(0), 1e-12)
            # Where the model alone is already as variable as the data, counts are near-Poisson.
            moments = 1.0 / np.maximum(inv, 1e-4)
            weight = n / (n + shrinkage)
            theta[lab] = np.exp(weight * np.log(moments) + (1 - weight) * np.log(trained.mean(0)))
        conditions.log_lib_mean = additive_fill(conditions.log_lib_mean, seen)
        self.mean_factor_, self.dispersion_ = factor, theta

    def to_uns(self) -> dict:
        """Return the trained model as a record of plain values and arrays for ``adata.uns``.

        Returns
        -------
        dict
            ``kind`` (``"flow"``), ``record_version``, ``sc_synth_version``, ``init_params``
            (module arguments, the autoencoder's among them), ``setup`` (layer, keys, var_names,
            n_obs), ``conditions`` (label and batch order, cells and log-normal library sizes per
            label and batch, additive ones where a pair had no cells), ``sampling``
            (``guidance``, ``n_steps``), ``mean_factor`` (labels × batches × genes),
            ``dispersion`` (labels × genes), ``weights`` (autoencoder and velocity field as
            arrays), ``autoencoder_history`` (the autoencoder's losses per epoch, when it was
            trained here) and ``history`` (the velocity field's losses per epoch). No training
            cell's latent code.
        """
        if self.mean_factor_ is None:
            raise RuntimeError("The model is not calibrated; call `train` or `calibrate` first.")
        return self._record(
            sampling={"guidance": float(self.guidance), "n_steps": int(self.n_steps)},
            mean_factor=self.mean_factor_,
            dispersion=self.dispersion_,
            autoencoder_history=self.autoencoder_history_,
        )

    @classmethod
    @doc_params
    def from_uns(
        cls, record: Mapping, guidance: float | None = None, n_steps: int | None = None
    ) -> FlowGenerator:
        """Rebuild a trained model from its record (:meth:`to_uns`).

        Parameters
        ----------
        {doc_from_uns_record}
        guidance, n_steps
            Override the record's sampling settings (see :func:`sc_synth.tl.generate`).

        Returns
        -------
        FlowGenerator
            {doc_from_uns_returns}
        """
        check_sampling(guidance, n_steps)
        missing = [field for field in _FLOW_FIELDS if field not in record]
        if missing:
            raise ValueError(
                f"The flow record lacks {missing} (corrupted or partial record); train it again."
            )
        model = cls._from_record(record, cls._module_cls)
        model.mean_factor_ = np.asarray(record["mean_factor"], dtype=np.float64)
        model.dispersion_ = np.asarray(record["dispersion"], dtype=np.float64)
        model.autoencoder_history_ = dict(record.get("autoencoder_history", {}))
        sampling = record["sampling"]
        model.guidance = float(sampling["guidance"] if guidance is None else guidance)
        model.n_steps = int(sampling["n_steps"] if n_steps is None else n_steps)
        return model

    @doc_params
    def sample(
        self, label: np.ndarray, batch: np.ndarray, library: np.ndarray, rng: np.random.Generator
    ) -> sparse.csr_matrix:
        """Draw new cells: noise → flow → decoder → calibrated negative binomial.

        Parameters
        ----------
        {doc_sample_params}

        Returns
        -------
        {doc_sample_returns}
        """
        z = torch.from_numpy(self.codes(label, batch, rng))
        label_t, batch_t = torch.as_tensor(label), torch.as_tensor(batch)
        with torch.inference_mode():
            px = self.module.autoencoder.decode(
                z, label_t, batch_t, torch.as_tensor(np.log(library), dtype=torch.float32)
            )
            # float32 and in place: the cells × genes means are the largest arrays of sampling.
            factor = torch.as_tensor(self.mean_factor_, dtype=torch.float32)
            mu = px["mu"].mul_(factor[label_t, batch_t]).numpy()
            zi = None if px["zi_logits"] is None else torch.sigmoid(px["zi_logits"]).numpy()
        counts = negative_binomial_counts(mu, self.dispersion_, label, rng)
        if zi is not None:
            rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            counts.data[rng.random(counts.nnz) < zi[rows, counts.indices]] = 0
            counts.eliminate_zeros()
        return counts
