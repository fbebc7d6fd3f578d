"""Every generator kind, listed once: its names, how it trains and how its records are sampled.

:func:`sc_synth.tl.generate`, :func:`sc_synth.tl.augment`, the study and the command line look
kinds up here, so a new kind is its own module (a training function and a sampler class) plus
one :func:`register` call. Entries name their code by dotted path, imported on first use: this
module, and the command line that lists the names, load without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_KINDS: dict[str, GeneratorKind] = {}
_ALIASES: dict[str, str] = {}


def _resolve(target: str | Callable) -> Callable:
    """``target`` itself, or what its ``"package.module:attribute[.attribute]"`` path names."""
    if callable(target):
        return target
    module, _, attributes = target.partition(":")
    found = importlib.import_module(module)
    for attribute in attributes.split("."):
        found = getattr(found, attribute)
    return found


@dataclass(frozen=True)
class GeneratorKind:
    """One generator that can be trained and sampled.

    Attributes
    ----------
    name
        Name in the study, on the command line and in reports; the study trains the generator
        under ``adata.uns[name]``.
    record_kind
        The ``kind`` field of the records it writes into ``adata.uns``. Generators that differ only
        in fixed training options (the GAN's losses) share one record kind and sampler.
    trainer
        The training function, or its ``"package.module:function"`` path. It is called as
        ``trainer(adata, labels_key=…, batch_key=…, key_added=…, max_epochs=…, seed=…,
        callbacks=…, **options)`` and writes a record of kind ``record_kind`` into
        ``adata.uns[key_added]``.
    sampler
        The class that draws counts from such a record, or its ``"package.module:Class"`` path:
        ``sampler(record)`` has ``sample(label, batch, library, rng)`` returning cells × genes
        integer counts as a CSR matrix (see :class:`sc_synth.models._sampler.Sampler`).
    options
        Fixed keyword arguments of ``trainer``, e.g. ``{"loss": "vanilla"}``.
    title
        Display name in descriptions, e.g. ``"vanilla GAN"``; ``None`` uses ``name``.
    aliases
        Other names the command line and the study accept for this generator.
    default
        Whether ``sc-synth run`` trains it when ``--models`` is not given.
    """

    name: str
    record_kind: str
    trainer: str | Callable
    sampler: str | Callable
    options: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None
    aliases: tuple[str, ...] = ()
    default: bool = False

    def __post_init__(self) -> None:
        # A read-only view: the entry is shared by every lookup.
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def display_name(self) -> str:
        """Name in descriptions: ``title``, else ``name``."""
        return self.title or self.name

    def train(self, adata, **kwargs) -> None:
        """Train on ``adata`` with the kind's fixed options; ``kwargs`` go to the trainer."""
        _resolve(self.trainer)(adata, **kwargs, **self.options)


def register(kind: GeneratorKind) -> GeneratorKind:
    """Add ``kind`` to the registry and return it.

    Raises
    ------
    ValueError
        When its name or an alias is already taken, or when another generator writes records of
        the same kind but samples them with another class.
    """
    taken = [n for n in (kind.name, *kind.aliases) if n in _KINDS or n in _ALIASES]
    if taken:
        raise ValueError(
            f"Generator names {taken} are already taken; taken names: "
            f"{sorted([*_KINDS, *_ALIASES])}."
        )
    for other in _KINDS.values():
        if other.record_kind == kind.record_kind and other.sampler != kind.sampler:
            raise ValueError(
                f"Generator {other.name!r} already samples records of kind "
                f"{kind.record_kind!r} with {other.sampler!r}; {kind.name!r} names "
                f"{kind.sampler!r}. Generators sharing a record kind share its sampler."
            )
    _KINDS[kind.name] = kind
    _ALIASES.update(dict.fromkeys(kind.aliases, kind.name))
    return kind


def unregister(name: str) -> None:
    """Remove the generator ``name`` (not an alias) and its aliases from the registry."""
    kind = _KINDS.pop(name)
    for alias in kind.aliases:
        del _ALIASES[alias]


def get(name: str) -> GeneratorKind:
    """Return the generator called ``name`` or one of its aliases.

    Raises
    ------
    KeyError
        When no generator has that name, naming the known ones.
    """
    try:
        return _KINDS[_ALIASES.get(name, name)]
    except KeyError:
        aliases = ", ".join(f"{a!r} for {n!r}" for a, n in _ALIASES.items())
        raise KeyError(
            f"No generator is called {name!r}; generators: {names()}"
            + (f" (aliases: {aliases})." if aliases else ".")
        ) from None


def kinds() -> list[GeneratorKind]:
    """Return the registered generators, in the order of registration."""
    return list(_KINDS.values())


def names() -> list[str]:
    """Return the names of the registered generators, in the order of registration."""
    return list(_KINDS)


def aliases() -> dict[str, str]:
    """Return each alias with the name of its generator."""
    return dict(_ALIASES)


def record_kinds() -> list[str]:
    """Return the ``kind`` values of records that can be sampled, sorted."""
    return sorted({kind.record_kind for kind in _KINDS.values()})


def sampler_class(record_kind: str) -> Callable:
    """Return the sampler class of records of kind ``record_kind``.

    Raises
    ------
    ValueError
        When no registered generator writes records of that kind, naming the known kinds.
    """
    for kind in _KINDS.values():
        if kind.record_kind == record_kind:
            return _resolve(kind.sampler)
    raise ValueError(
        f"No generator writes records of kind {record_kind!r}; known kinds: {record_kinds()}."
    )


register(
    GeneratorKind(
        "vae",
        record_kind="vae",
        trainer="sc_synth.tl:train_vae",
        sampler="sc_synth.models.vae._model:VAEGenerator.from_uns",
        title="VAE",
        default=True,
    )
)
register(
    GeneratorKind(
        "vanilla-gan",
        record_kind="gan",
        trainer="sc_synth.tl:train_gan",
        sampler="sc_synth.models.gan._model:GANGenerator.from_uns",
        options={"loss": "vanilla"},
        title="vanilla GAN",
    )
)
register(
    GeneratorKind(
        "wgan-gp",
        record_kind="gan",
        trainer="sc_synth.tl:train_gan",
        sampler="sc_synth.models.gan._model:GANGenerator.from_uns",
        options={"loss": "wgan-gp"},
        title="WGAN-GP",
        aliases=("gan",),
        default=True,
    )
)
register(
    GeneratorKind(
        "flow",
        record_kind="flow",
        trainer="sc_synth.tl:train_flow",
        sampler="sc_synth.models.flow._model:FlowGenerator.from_uns",
        title="flow matching model",
    )
)
