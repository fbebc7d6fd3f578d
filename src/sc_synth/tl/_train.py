from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from anndata import AnnData
from lightning.pytorch import Trainer
from scipy import sparse
from scvi.model.base import UnsupervisedTrainingMixin

from .._docs import doc_params
from .._validation import (
    check_counts,
    check_min_cells_per_category,
    check_obs_key,
    get_matrix,
)
from ..models._conditions import categories
from ..models._generator import ROW_BLOCK, check_training_counts
from ..models._training import seed_training
from ..models.gan._model import MODULE_OPTIONS as GAN_MODULE_OPTIONS
from ..models.gan._model import GANGenerator
from ..models.gan._module import check_loss
from ..models.gan._trainingplan import PLAN_OPTIONS as GAN_PLAN_OPTIONS
from ..models.vae._model import MODULE_OPTIONS, VAEGenerator

_TRAIN_OPTIONS = frozenset(
    inspect.signature(UnsupervisedTrainingMixin.train).parameters
) | frozenset(inspect.signature(Trainer.__init__).parameters)
_TRAIN_OPTIONS = _TRAIN_OPTIONS - {"self", "trainer_kwargs", "kwargs", "max_epochs"}


def _split_kwargs(kwargs: dict, module_options: tuple[str, ...]) -> tuple[dict, dict]:
    module, train = {}, {}
    for key, value in kwargs.items():
        if key in module_options:
            module[key] = value
        elif key in _TRAIN_OPTIONS:
            train[key] = value
        else:
            raise TypeError(
                f"Unknown keyword argument {key!r}. Model options: {sorted(module_options)}; "
                "training options are those of scvi-tools' `train` and Lightning's `Trainer` "
                "(e.g. batch_size, train_size, early_stopping, plan_kwargs, strategy)."
            )
    return module, train


def _check_counts_in_blocks(matrix, name: str, allow_non_integer: bool) -> None:
    """:func:`check_counts` on blocks of rows, for counts in memory and backed on disk alike.

    Counts backed on disk stay there; in memory, checking the whole matrix at once would hold
    temporaries as large as the counts.
    """
    if 0 in matrix.shape:
        check_counts(matrix, name=name)  # refuses the empty matrix
    empty = 0
    for start in range(0, matrix.shape[0], ROW_BLOCK):
        block = matrix[start : start + ROW_BLOCK]
        check_counts(block, name=name, allow_non_integer=allow_non_integer, min_cell_total=False)
        empty += int(np.sum(np.asarray(block.sum(axis=1)).ravel() <= 0))
    if empty:
        raise ValueError(
            f"{name} has {empty} cells with no counts; remove them first, e.g. with "
            "`sc.pp.filter_cells(adata, min_counts=1)`."
        )


def _training_view(
    adata: AnnData,
    layer: str | None,
    labels_key: str | None,
    batch_key: str | None,
    allow_non_integer: bool,
) -> AnnData:
    """Check the input and build a lean AnnData sharing the counts, which scvi-tools may annotate.

    scvi-tools writes registry columns into the AnnData it is set up on; training on this
    stand-in leaves the user's object untouched.
    """
    check_training_counts(adata, layer)
    matrix = get_matrix(adata, layer)
    name = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    check_obs_key(adata, labels_key, "labels_key")
    check_obs_key(adata, batch_key, "batch_key")
    if labels_key is not None and labels_key == batch_key:
        raise ValueError("`labels_key` and `batch_key` must name different columns.")
    _check_counts_in_blocks(matrix, name, allow_non_integer)
    check_min_cells_per_category(adata, labels_key, "labels_key")
    if adata.n_obs < 10:
        raise ValueError(f"adata has {adata.n_obs} cells; training needs at least 10.")
    keys = [k for k in (labels_key, batch_key) if k is not None]
    obs = pd.DataFrame(
        {
            k: pd.Categorical(adata.obs[k].astype(str), categories=categories(adata.obs[k]))
            for k in keys
        },
        index=adata.obs_names,
    )
    if sparse.issparse(matrix):
        matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    # The counts also sit under the user's layer name, so that a model set up on that layer
    # records it.
    lean = AnnData(
        X=matrix,
        obs=obs,
        var=pd.DataFrame(index=adata.var_names.copy()),
        layers={} if layer is None else {layer: matrix},
    )
    return lean


@doc_params
def train_vae(
    adata: AnnData,
    *,
    layer: str | None = None,
    labels_key: str | None = None,
    batch_key: str | None = None,
    key_added: str = "vae",
    max_epochs: int | None = None,
    accelerator: str = "auto",
    devices: int | list[int] | str = "auto",
    seed: int = 0,
    allow_non_integer: bool = False,
    **kwargs,
) -> None:
    """Train a conditional count VAE and store it in ``adata.uns[key_added]``.

    The model is scvi-tools' :class:`~scvi.module.VAE` (negative-binomial likelihood, observed
    library size) conditioned on ``labels_key`` and ``batch_key`` in encoder and decoder, with
    dispersions per gene and label, trained with the KL term weighted 6 after warm-up (at 1 the
    latent space memorises the training cells' counting noise, which new cells then inherit as
    spread real cells lack). After training, four things are stored for generation: the
    encoder's posteriors of the training cells per label (the aggregate posterior, from which
    latent codes of new cells are drawn), a log-normal library size per label and batch, per
    label, batch and gene a factor that makes the decoder's mean over those codes the training
    cells' mean, and per label and gene the negative-binomial dispersion that makes counts
    generated this way as variable as the training cells (the trained dispersion absorbs the
    decoder's misfit and makes samples far too noisy). :func:`sc_synth.tl.generate` draws new
    cells from these, not from N(0, I) and not by re-sampling training cells.

    Parameters
    ----------
    {doc_training_data}
    max_epochs
        Passes through the data; ``None`` uses scvi-tools' heuristic
        (:func:`scvi.model.get_max_epochs_heuristic`: 400 epochs up to 20,000 cells) capped at
        about 12,000 minibatches, which binds above about 4,300 cells, with the KL warm-up
        over all epochs (see :meth:`~sc_synth.models.VAEGenerator.train`).
    {doc_accelerator}
    seed
        Seed of weights, data order and the latent prior fit (through ``scvi.settings.seed``).
        The same seed, machine and thread count give the same weights. Training runs on
        ``scvi.settings.num_threads`` torch threads if set, else ``scanpy.settings.n_jobs``
        (default 1; ``-1``: all cores), and prints nothing below ``scanpy.settings.verbosity``
        ``"info"``, from which on it logs its progress and shows Lightning's progress bar.
    allow_non_integer
        Train on non-integer values (e.g. ambient-corrected counts) instead of refusing them.
    **kwargs
        Model options (``n_latent`` = 10, ``n_hidden`` = 128, ``n_layers`` = 1,
        ``dropout_rate`` = 0.1, ``dispersion``, ``gene_likelihood`` = ``"nb"`` or ``"zinb"``,
        ``max_prior_codes`` = 2000 training cells per label whose posteriors generation draws
        from, a random subset of larger labels; see :class:`~sc_synth.models.VAEGenerator`) and
        training options of :meth:`scvi.model.SCVI.train` and :class:`lightning.pytorch.Trainer`
        (``batch_size``, ``train_size``, ``early_stopping``, ``plan_kwargs``, ``strategy``,
        ``enable_progress_bar``, …); ``plan_kwargs={"max_kl_weight": 1.0}`` restores
        scvi-tools' KL weight.

    Returns
    -------
    None
        Writes ``adata.uns[key_added]``, a dict of plain values and arrays that
        :meth:`~anndata.AnnData.write_h5ad` stores: ``kind`` (``"vae"``), ``sc_synth_version``,
        ``record_version``, ``init_params`` (module arguments), ``setup`` (layer, keys, var_names),
        ``conditions`` (label and batch order, cells and log-normal library sizes per label and
        batch), ``latent_prior``, ``mean_factor`` (labels × batches × genes), ``dispersion`` (labels
        × genes), ``weights`` (the state dict as arrays) and ``history`` (losses per epoch). Nothing
        else in ``adata`` changes; a failed call changes nothing.
    """
    module_kwargs, train_kwargs = _split_kwargs(kwargs, MODULE_OPTIONS)
    lean = _training_view(adata, layer, labels_key, batch_key, allow_non_integer)
    seed_training(seed)
    VAEGenerator.setup_anndata(lean, layer=layer, labels_key=labels_key, batch_key=batch_key)
    model = VAEGenerator(lean, **module_kwargs)
    model.train(max_epochs=max_epochs, accelerator=accelerator, devices=devices, **train_kwargs)
    adata.uns[key_added] = model.to_uns()


@doc_params
def train_gan(
    adata: AnnData,
    *,
    layer: str | None = None,
    labels_key: str | None = None,
    batch_key: str | None = None,
    key_added: str = "gan",
    loss: str = "wgan-gp",
    max_epochs: int | None = None,
    accelerator: str = "auto",
    devices: int | list[int] | str = "auto",
    seed: int = 0,
    allow_non_integer: bool = False,
    **kwargs,
) -> None:
    """Train a conditional GAN and store it in ``adata.uns[key_added]``.

    The critic, a projection critic on ``labels_key`` and ``batch_key``, scores
    library-size-normalised log expression, ``log1p(counts / library * target_sum)`` with
    ``target_sum`` the median library size. The generator maps Gaussian noise and the
    (standardised log) library size to relative gene expression, with conditional batch norm on
    the same conditions; its cells are Poisson counts drawn from that expression at the library
    size and normalised as real cells are, so the generator need not make up counting noise; a
    gamma factor per gene and label with learned shape adds overdispersion (negative binomial
    counts). The generator starts at the training cells' mean profile per label and batch and
    their overdispersion per gene and label; training teaches it the variation beyond that.
    :func:`sc_synth.tl.generate` draws a library size per label and batch from the log-normal
    fitted at training, generates a profile for it and draws negative binomial counts around
    it (the gamma factor and Poisson draw of training), so library sizes vary as in the
    training cells.

    Parameters
    ----------
    {doc_training_data}
    loss
        ``"wgan-gp"``: Wasserstein loss with gradient penalty (weight ``gradient_penalty`` = 10),
        5 critic steps per generator step, Adam with lr 2e-4 and betas (0.5, 0.9).
        ``"vanilla"``: the non-saturating GAN loss (binary cross-entropy), 1 critic step per
        generator step, Adam with lr 5e-5 and betas (0.5, 0.999).
    max_epochs
        Passes through the data; ``None`` trains for 200 generator steps (each critic step
        takes one minibatch, on several devices one on each), whatever the number of cells and
        devices.
    {doc_accelerator}
    seed
        Seed of weights, noise and data order (through ``scvi.settings.seed``). The same seed,
        machine and thread count give the same weights. Threads and output as in
        :func:`train_vae`.
    allow_non_integer
        Train on non-integer values (e.g. ambient-corrected counts) instead of refusing them.
    **kwargs
        Model options (``n_latent`` = 64 noise dimensions, ``n_hidden`` = 256 units in the
        widest layer, ``n_layers`` = 2, ``gradient_penalty`` = 10), optimisation options
        (``n_critic``, ``lr``, ``betas``, ``amsgrad`` = False, ``ema_decay``: the trained
        generator is the exponential moving average of its weights with this decay, 0.98 for
        ``"wgan-gp"``, 0 (the last weights) for ``"vanilla"``; ``None`` means the defaults of
        ``loss``) and training options of :meth:`scvi.model.SCVI.train` and
        :class:`lightning.pytorch.Trainer` (``batch_size`` = 128, ``train_size`` = 1: all cells
        train, a smaller value logs precision and recall on the held-out rest; ``strategy``,
        ``enable_progress_bar``, …).

    Returns
    -------
    None
        Writes ``adata.uns[key_added]``, a dict of plain values and arrays that
        :meth:`~anndata.AnnData.write_h5ad` stores: ``kind`` (``"gan"``), ``sc_synth_version``,
        ``record_version``, ``init_params`` (module arguments, among them ``loss``, ``target_sum``
        and the library-size standardisation), ``plan_params`` (``n_critic``, ``lr``, ``betas``,
        ``amsgrad``, ``ema_decay`` as used, and the steps taken), ``setup`` (layer, keys,
        var_names), ``conditions`` (label and batch order, cells and log-normal library sizes per
        label and batch), ``weights`` (the generator's state dict as arrays) and ``history``
        (per epoch: ``critic_loss_train``, ``generator_loss_train`` (for epochs with a generator
        step), ``precision_train`` and ``recall_train`` of generated against real cells within
        minibatches, for ``"wgan-gp"`` ``wasserstein_train`` and ``gradient_penalty_train``, and
        with ``train_size < 1`` ``precision_validation`` and ``recall_validation`` against the
        held-out cells). Nothing else in ``adata`` changes; a failed call changes nothing.
    """
    check_loss(loss)
    module_kwargs, train_kwargs = _split_kwargs(kwargs, GAN_MODULE_OPTIONS + GAN_PLAN_OPTIONS)
    plan_kwargs = dict(train_kwargs.pop("plan_kwargs", None) or {})
    plan_kwargs.update({k: module_kwargs.pop(k) for k in GAN_PLAN_OPTIONS if k in module_kwargs})
    lean = _training_view(adata, layer, labels_key, batch_key, allow_non_integer)
    seed_training(seed)
    GANGenerator.setup_anndata(lean, layer=layer, labels_key=labels_key, batch_key=batch_key)
    model = GANGenerator(lean, loss=loss, **module_kwargs)
    model.train(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        plan_kwargs=plan_kwargs,
        **train_kwargs,
    )
    adata.uns[key_added] = model.to_uns()
