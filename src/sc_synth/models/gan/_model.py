"""The conditional GAN as an scvi-tools model: data-driven start, training, record, sampling."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from anndata import AnnData
from scipy import sparse
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from ..._docs import doc_params
from .._counts import negative_binomial_counts
from .._generator import (
    GeneratorMixin,
    group_sums,
    library_sizes,
    registered_codes,
    registered_counts,
    row_blocks,
)
from .._record import clean_params
from .._training import training_run
from ._module import THETA_RANGE, GANModule
from ._trainingplan import PLAN_DEFAULTS, GANTrainingPlan

#: Module arguments a user may set through ``train_gan(**kwargs)``.
MODULE_OPTIONS = ("n_latent", "n_hidden", "n_layers", "gradient_penalty")

#: Generator steps that ``max_epochs=None`` trains for, whatever the number of cells and devices.
#: Started at the data (see ``data_start``), 200 steps meet precision and recall of 0.7 on
#: held-out PBMC and simulated cells, and reach the real-vs-real reference on 10,000, 50,000 and
#: 200,000 simulated cells, where 3,900 and 15,600 minibatches (the earlier 10-epoch floor) would
#: take four and sixteen times as long (see the Scale page of the docs).
DEFAULT_GENERATOR_STEPS = 200

# Weight, in cells, of the all-cells gamma shapes in each label's.
_THETA_PRIOR_CELLS = 20


def default_max_steps(n_critic: int) -> int:
    """Lightning's steps for :data:`DEFAULT_GENERATOR_STEPS` generator steps.

    Lightning counts the steps of both optimisers: ``n_critic`` critic steps and one generator
    step make ``n_critic + 1``. Every device of a data-parallel run takes the same steps, each on
    its own minibatch, so that the count holds on any number of devices.
    """
    return DEFAULT_GENERATOR_STEPS * (n_critic + 1)


def data_start(
    counts,
    label: np.ndarray,
    batch: np.ndarray,
    n_labels: int,
    n_batch: int,
    library: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Fit the training cells' mean profiles and overdispersion, where the generator starts.

    The output bias becomes the log mean relative expression of all cells, the label and batch
    offsets the log ratios of their cells' mean to it, and the gamma shapes of each label a
    method-of-moments fit of a negative binomial within each of its batches, on counts scaled to
    the mean library size, net of the Poisson noise that scaling shallow cells up inflates, and
    shrunk towards the fit over all labels by a prior worth :data:`_THETA_PRIOR_CELLS` cells.
    Training then starts from a negative binomial per condition instead of random profiles,
    and the critic only has to teach the variation beyond it.

    Parameters
    ----------
    counts
        Training counts, cells × genes (dense, sparse or backed on disk: read in blocks of
        rows).
    label, batch
        Codes of each cell's label and batch.
    n_labels, n_batch
        Number of labels and batches.
    library
        Each cell's total counts; ``None`` sums them from ``counts``.

    Returns
    -------
    dict
        The arguments of :meth:`GANModule.start_at` as arrays: ``log_profile`` (genes),
        ``offsets`` ((labels + batches) × genes) and ``log_theta`` (labels × genes).
    """
    if library is None:
        library = library_sizes(counts)
    scale = library.mean() / np.maximum(library, 1.0)
    groups, n_groups = label * n_batch + batch, n_labels * n_batch
    # Per label and batch: summed counts, and summed and squared counts scaled to the mean library.
    totals = sums = squares = 0.0
    for rows, block in row_blocks(counts):
        codes = groups[rows]
        scaled = sparse.diags(scale[rows]) @ block
        squared = scaled.multiply(scaled) if sparse.issparse(scaled) else scaled**2
        totals = totals + group_sums(codes, n_groups, block)
        sums = sums + group_sums(codes, n_groups, scaled)
        squares = squares + group_sums(codes, n_groups, squared)
    totals = totals.reshape(n_labels, n_batch, -1)

    def log_profile(totals):
        # Half a count per gene keeps genes unseen in a condition finite.
        totals = totals + 0.5
        return np.log(totals / totals.sum(1, keepdims=True))

    overall = log_profile(totals.sum((0, 1))[None])
    offsets = [log_profile(totals.sum(axis)) - overall for axis in (1, 0)]
    size = np.bincount(groups, minlength=n_groups)[:, None]
    mean = sums / np.maximum(size, 1)
    variance = squares / np.maximum(size, 1) - mean**2
    # Counts scaled by s have Poisson variance s times their mean, not the mean: taking the
    # mean alone leaves the Poisson noise of shallow cells in the gamma's share.
    poisson = mean * np.bincount(groups, scale, minlength=n_groups)[:, None] / np.maximum(size, 1)
    squares = (size * mean**2).reshape(n_labels, n_batch, -1).sum(1)
    excess = (size * np.clip(variance - poisson, 0, None)).reshape(n_labels, n_batch, -1).sum(1)
    # Per label, shrunk towards all cells' fit by a prior worth _THETA_PRIOR_CELLS cells, so
    # that a rare label does not get shapes from a handful of cells.
    prior = _THETA_PRIOR_CELLS / max(len(label), 1)
    squares += prior * squares.sum(0)
    excess += prior * excess.sum(0)
    theta = np.clip(squares / np.maximum(excess, 1e-12), *THETA_RANGE)

    return {
        "log_profile": overall.ravel(),
        "offsets": np.vstack(offsets),
        "log_theta": np.log(theta),
    }


class GANGenerator(GeneratorMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """A GAN conditioned on labels and batches, for generating new cells.

    The generator (``GANModule``) maps noise, the library size, the label and the batch to
    relative expression, and its cells are negative-binomial counts around it; a projection
    critic, owned by the training plan, scores library-size-normalised log expression. The
    generator starts at the training cells' mean profiles and overdispersion per label and
    batch (``data_start``), so training teaches only the variation beyond them.
    :func:`sc_synth.tl.train_gan` is the scanpy-style front of this class.

    Parameters
    ----------
    adata
        AnnData of raw counts registered with ``setup_anndata``, in memory or backed on
        disk: the data-driven start reads backed counts in blocks of rows.
    n_latent
        Dimension of the generator's Gaussian noise.
    n_hidden
        Units in the widest layer of generator and critic; the others halve.
    n_layers
        Hidden layers of generator and critic.
    loss
        ``"wgan-gp"`` (Wasserstein loss with gradient penalty) or ``"vanilla"`` (non-saturating
        binary cross-entropy).
    gradient_penalty
        Weight of the gradient penalty for ``"wgan-gp"``.

    Examples
    --------
    >>> import sc_synth as ss
    >>> adata = ss.datasets.pbmc68k_counts()  # doctest: +SKIP
    >>> ss.models.GANGenerator.setup_anndata(adata, labels_key="bulk_labels")  # doctest: +SKIP
    >>> model = ss.models.GANGenerator(adata)  # doctest: +SKIP
    >>> model.train()  # doctest: +SKIP
    >>> adata.uns["gan"] = model.to_uns()  # doctest: +SKIP
    """

    _module_cls = GANModule
    _training_plan_cls = GANTrainingPlan
    _record_kind = "gan"

    def __init__(
        self,
        adata: AnnData,
        n_latent: int = 64,
        n_hidden: int = 256,
        n_layers: int = 2,
        loss: str = "wgan-gp",
        gradient_penalty: float = 10.0,
    ):
        super().__init__(adata)
        counts = registered_counts(self.adata_manager)
        library = library_sizes(counts)
        log_library = np.log(library)
        n_labels, n_batch = self.summary_stats.n_labels, self.summary_stats.n_batch
        self.module_params = {
            "n_input": self.summary_stats.n_vars,
            "n_labels": n_labels,
            "n_batch": n_batch,
            "n_latent": n_latent,
            "n_hidden": n_hidden,
            "n_layers": n_layers,
            "loss": loss,
            "gradient_penalty": gradient_penalty,
            # Profiles normalised to the median library keep values on the scale of counts.
            "target_sum": float(np.exp(np.median(log_library))),
            "log_library_mean": float(log_library.mean()),
            "log_library_sd": float(max(log_library.std(), 1e-3)),
        }
        self.module = self._module_cls(**self.module_params)
        codes = registered_codes(self.adata_manager)
        start = data_start(counts, *codes, n_labels, n_batch, library=library)
        self.module.start_at(**{name: torch.as_tensor(a) for name, a in start.items()})
        self._init_record(library)
        self.plan_params = None
        self._model_summary_string = (
            f"GANGenerator: loss {loss}, n_latent {n_latent}, n_hidden {n_hidden}, "
            f"n_layers {n_layers}."
        )
        self.init_params_ = self._get_init_params(locals())

    def train(
        self,
        max_epochs: int | None = None,
        batch_size: int = 128,
        train_size: float = 1.0,
        plan_kwargs: dict | None = None,
        **kwargs,
    ) -> None:
        """Train generator and critic adversarially.

        Unlike scvi-tools' default, all cells train (``train_size=1``): a GAN has no likelihood
        to validate.

        Parameters
        ----------
        max_epochs
            Passes through the data; ``None`` trains for 200 generator steps (each of its
            critic steps takes one minibatch; on several devices, one minibatch on each),
            whatever the number of cells and devices, through Lightning's ``max_steps``.
        batch_size
            Cells per minibatch.
        train_size
            Share of the cells that train; below 1, precision and recall of generated against
            the held-out cells are logged each epoch.
        plan_kwargs
            Passed to ``GANTrainingPlan`` (``n_critic``, ``lr``, ``betas``, ``amsgrad``,
            ``ema_decay``).
        **kwargs
            Passed to :meth:`scvi.model.base.UnsupervisedTrainingMixin.train` and the Lightning
            trainer. Below scanpy's verbosity ``"info"``, training prints nothing.

        Returns
        -------
        None
            Sets the trained weights, ``history`` and ``plan_params`` (the optimisation
            settings as used and the steps taken).
        """
        plan_kwargs = dict(plan_kwargs or {})
        if max_epochs is None:
            n_critic = (
                plan_kwargs.get("n_critic") or PLAN_DEFAULTS[self.module.loss_name]["n_critic"]
            )
            kwargs.setdefault("max_steps", default_max_steps(n_critic))
            # An epoch takes at least one step: the steps, not the epochs, end training.
            max_epochs = kwargs["max_steps"]
        if train_size < 1:
            kwargs.setdefault("check_val_every_n_epoch", 1)
        with training_run(f"{self.module.loss_name} GAN", self.adata, kwargs):
            super().train(
                max_epochs=max_epochs,
                batch_size=batch_size,
                train_size=train_size,
                plan_kwargs=plan_kwargs,
                **kwargs,
            )
        self.plan_params = self.trainer.lightning_module.params()

    def to_uns(self) -> dict:
        """Return the trained model as a record of plain values and arrays for ``adata.uns``.

        Returns
        -------
        dict
            ``kind`` (``"gan"``), ``record_version``, ``sc_synth_version``, ``init_params``
            (module arguments, among them ``loss``, ``target_sum`` and the library-size
            standardisation), ``plan_params`` (``n_critic``, ``lr``, ``betas``, ``amsgrad``,
            ``ema_decay`` as used, and the steps taken), ``setup`` (layer, keys, var_names,
            n_obs), ``conditions`` (label and batch order, cells and log-normal library sizes
            per label and batch), ``weights`` (the generator's state dict as arrays; the critic
            is not needed to generate) and ``history`` (quantities logged per epoch).
        """
        return self._record(plan_params=clean_params(self.plan_params))

    @classmethod
    @doc_params
    def from_uns(cls, record: Mapping) -> GANGenerator:
        """Rebuild a trained model from its record (:meth:`to_uns`, or an older version's).

        Parameters
        ----------
        {doc_from_uns_record}
            Records before version 4 also hold the critic's weights, which are left out.

        Returns
        -------
        GANGenerator
            {doc_from_uns_returns}
        """
        weights = {k: v for k, v in record["weights"].items() if not k.startswith("critic.")}
        model = cls._from_record({**record, "weights": weights}, cls._module_cls)
        model.plan_params = dict(record["plan_params"])
        return model

    @doc_params
    def sample(
        self, label: np.ndarray, batch: np.ndarray, library: np.ndarray, rng: np.random.Generator
    ) -> sparse.csr_matrix:
        """Draw new cells: noise → generated profile → negative binomial at the library size.

        The counts' sizes are the learned gamma shapes per label and gene: the law the critic
        saw in training, where a gamma draw per gene scaled the profile before a Poisson draw.

        Parameters
        ----------
        {doc_sample_params}

        Returns
        -------
        {doc_sample_returns}
        """
        noise = rng.standard_normal((len(label), self.module.n_latent)).astype(np.float32)
        device = self.module.device
        profile = self.module.sample(
            torch.as_tensor(noise, device=device),
            torch.as_tensor(library[:, None], dtype=torch.float32, device=device),
            torch.as_tensor(label, device=device),
            torch.as_tensor(batch, device=device),
        ).cpu()
        theta = self.module.generator.log_theta.detach().cpu().double().exp().numpy()
        return negative_binomial_counts(
            profile.double().numpy() * library[:, None], theta, label, rng
        )
