"""The ``sc-synth`` command line.

Every command checks its arguments, paths and input before the learning stack (torch,
scvi-tools, Lightning) loads, so a mistake is reported in a moment; a failed or interrupted
command reports one line and leaves no output folder it created behind.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from scipy import sparse

from . import __version__
from .models import _registry


class UsageError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


#: Lightning loggers whose info lines (hardware, seeds, tips) drown the command's own progress.
_CHATTY_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.seed",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sc-synth",
        description=(
            "Synthetic single-cell RNA-seq counts: simulate data with known ground truth, "
            "train generators (VAE, GAN) on real data, and judge how real synthetic cells are."
        ),
        epilog="Run 'sc-synth COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"sc-synth {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    kinds = _registry.kinds()
    titles = [f"the {kind.display_name}" for kind in kinds]
    every = f"{', '.join(titles[:-1])} and {titles[-1]}" if len(titles) > 1 else titles[0]
    demo = commands.add_parser(
        "demo",
        help="run the VAE-vs-GAN study on simulated data (2 batches × 2 groups)",
        description=(
            f"Simulate 2 batches × 2 groups, train {every} on one half of the cells, generate "
            "the other half's composition and judge it against the held-out cells. Writes "
            "metrics.csv, precision_recall.png, embedding.png, synthetic_<model>.h5ad and "
            "report.md into --out. Takes about 6 minutes on two CPU cores shared with other work "
            "(--quick: about 3 minutes), a third of it training the flow."
        ),
    )
    demo.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    demo.add_argument(
        "--quick", action="store_true", help="small data and short training (about 3 minutes)"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of every step (default 0)")
    demo.set_defaults(func=_demo)

    run = commands.add_parser(
        "run",
        help="run the same study on your own .h5ad file",
        description=(
            "Train generators on one half of INPUT's cells, generate the other half's composition "
            "and judge the synthetic cells against the held-out ones. Same outputs as 'demo'. "
            "INPUT needs raw counts, a column of cell types with at least 3 cells per type, and "
            "at least 24 cells."
        ),
    )
    run.add_argument("input", type=Path, help="an .h5ad file with raw counts")
    run.add_argument("--labels", required=True, help="obs column with cell types")
    run.add_argument("--batch", default=None, help="obs column with batches")
    run.add_argument("--layer", default=None, help="layer with the raw counts (default: X)")
    default = [kind.name for kind in kinds if kind.default]
    means = [f"{alias!r} means {name}" for alias, name in _registry.aliases().items()]
    run.add_argument(
        "--models",
        nargs="+",
        default=default,
        choices=[*_registry.names(), *_registry.aliases()],
        help=f"generators to train ({'; '.join([*means, 'default: ' + ' '.join(default)])})",
    )
    run.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    run.add_argument("--quick", action="store_true", help="short training")
    run.add_argument("--seed", type=int, default=0, help="seed of every step (default 0)")
    run.set_defaults(func=_run)

    simulate = commands.add_parser(
        "simulate",
        help="simulate counts with the Splat model into an .h5ad file",
        description=(
            "Simulate counts with known ground truth (see sc_synth.pp.simulate). By default the "
            "cells fall into 2 batches × 2 groups at droplet depth (about 4,000 counts per "
            "cell), data on which 'sc-synth run --labels group --batch batch' makes a sensible "
            "study."
        ),
    )
    simulate.add_argument(
        "--n-cells",
        type=int,
        default=None,
        help="cells (default: the sum of --batch-cells if given, else 1000)",
    )
    simulate.add_argument("--n-genes", type=int, default=2000, help="genes (default 2000)")
    batches = simulate.add_mutually_exclusive_group()
    batches.add_argument("--batches", type=int, default=2, help="batches of equal size (default 2)")
    batches.add_argument(
        "--batch-cells", type=int, nargs="+", default=None, help="cells per batch, e.g. 600 400"
    )
    groups = simulate.add_mutually_exclusive_group()
    groups.add_argument(
        "--groups", type=int, default=2, help="groups (cell types) of equal probability (default 2)"
    )
    groups.add_argument(
        "--group-prob",
        type=float,
        nargs="+",
        default=None,
        help="group probabilities, e.g. 0.7 0.3",
    )
    simulate.add_argument(
        "--lib-loc",
        type=float,
        default=8.3,
        help=(
            "log-mean of the library sizes (default 8.3: about 4,000 counts per cell, as in "
            "droplet data; Splat's own default, 11, gives about 60,000, as in full-length "
            "protocols)"
        ),
    )
    simulate.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    simulate.add_argument("--out", required=True, type=Path, help="the .h5ad file to write")
    simulate.set_defaults(func=_simulate)
    return parser


@contextmanager
def _output_folder(folder: Path, out: Path) -> Iterator[Path]:
    """Create ``folder`` if missing and check that it takes files; undo the creation on failure.

    Whatever the block raises (a usage error, an interrupt, a crash), the folders this call
    created are removed with everything in them. ``out`` is the ``--out`` value errors name.
    """
    created = next((p for p in [*reversed(folder.parents), folder] if not p.exists()), None)
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as err:
            raise UsageError(f"cannot write to --out {str(out)!r}: {err.strerror or err}") from err
        yield folder
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


@contextmanager
def _progress_on_stderr() -> Iterator[None]:
    """Show scanpy's info-level log (the study's progress) on stderr, without Lightning's chatter."""
    import scanpy as sc

    logfile, verbosity = sc.settings.logfile, sc.settings.verbosity
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    sc.settings.logfile = sys.stderr
    sc.settings.verbosity = "info"
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        sc.settings.logfile, sc.settings.verbosity = logfile, verbosity
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _read(path: Path):
    import anndata as ad

    try:
        return ad.read_h5ad(path)
    except (OSError, KeyError, ValueError) as err:
        raise UsageError(f"cannot read {str(path)!r} as an .h5ad file: {err}") from err


def _check_input(adata, args: argparse.Namespace) -> None:
    """Refuse input the study cannot use, before any training; warn about input it can barely use."""
    from scanpy import logging as logg

    from ._study import K, half_sizes
    from ._validation import check_counts

    name = args.input.name
    for option, key in (("--labels", args.labels), ("--batch", args.batch)):
        if key is None:
            continue
        if key not in adata.obs:
            raise UsageError(
                f"{option} {key!r} is not a column of {name}'s obs; "
                f"columns: {', '.join(map(str, adata.obs.columns)) or 'none'}"
            )
        if adata.obs[key].isna().any():
            missing = int(adata.obs[key].isna().sum())
            raise UsageError(f"{option} {key!r} has {missing} cells without a value in {name}")
    if args.labels == args.batch:
        raise UsageError("--labels and --batch must name different columns")
    if args.layer is not None and args.layer not in adata.layers:
        raise UsageError(
            f"--layer {args.layer!r} is not a layer of {name}; "
            f"layers: {', '.join(adata.layers.keys()) or 'none'}"
        )

    matrix = adata.X if args.layer is None else adata.layers[args.layer]
    if matrix is None:
        raise UsageError(f"{name} has no X; name the layer with the counts with --layer")
    where = f"X of {name}" if args.layer is None else f"layer {args.layer!r} of {name}"
    try:
        check_counts(matrix, name=where, allow_non_integer=True)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err).rstrip(".")) from err
    values = matrix.data if sparse.issparse(matrix) else np.asarray(matrix)
    fractional = values[values != np.round(values)]
    if fractional.size:
        raise UsageError(
            f"{where} holds non-integer values (e.g. {fractional.flat[0]:.4g}), not raw counts; "
            "name the layer with the counts with --layer"
        )

    keys = [k for k in (args.labels, args.batch) if k is not None]
    sizes = half_sizes(adata.obs, keys)
    per_label = sizes["train"].groupby(level=args.labels, observed=True).sum()
    small = per_label[per_label < 2]
    if len(small):
        shown = ", ".join(repr(str(label)) for label in small.index[:5])
        more = f" and {len(small) - 5} more" if len(small) > 5 else ""
        hint = "; is it a column of cell types?" if len(per_label) > adata.n_obs / 2 else ""
        raise UsageError(
            f"--labels {args.labels!r}: labels {shown}{more} have too few cells; a generator "
            "learns a label from the training half of its cells and needs 2 there, which 3 "
            f"cells per label always give (merge or remove the small ones{hint})"
        )
    held_out = int(sizes["held_out"].sum())
    if held_out < 2 * (K + 1):
        raise UsageError(
            f"{name} has {adata.n_obs} cells; the study judges the generators on the held-out "
            f"half, which needs at least {2 * (K + 1)} cells (it has {held_out})"
        )
    if len(per_label) == 1:
        logg.warning(
            f"--labels {args.labels!r} has one label ({str(per_label.index[0])!r}): the "
            "generators are not conditioned on cell type and the study cannot compare types"
        )


def _demo(args: argparse.Namespace) -> int:
    from scanpy import logging as logg

    from ._study import Settings, run_study, simulated_data

    with _output_folder(args.out, args.out) as out:
        settings = Settings.make(args.quick)
        logg.info(
            f"simulating {settings.n_cells} cells × {settings.n_genes} genes, 2 batches × 2 groups"
        )
        adata = simulated_data(settings, args.seed)
        run_study(
            adata,
            labels_key="group",
            batch_key="batch",
            models=_registry.names(),
            out=out,
            settings=settings,
            seed=args.seed,
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    from ._study import Settings, run_study

    if not args.input.exists():
        raise UsageError(f"input file {str(args.input)!r} does not exist")
    if not args.input.is_file():
        raise UsageError(f"input {str(args.input)!r} is not a file")
    with _output_folder(args.out, args.out) as out:
        adata = _read(args.input)
        _check_input(adata, args)
        run_study(
            adata,
            labels_key=args.labels,
            batch_key=args.batch,
            models=args.models,
            out=out,
            settings=Settings.make(args.quick),
            seed=args.seed,
            layer=args.layer,
        )
    return 0


def _equal_parts(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def _simulate(args: argparse.Namespace) -> int:
    from . import pp
    from ._io import write_h5ad

    if args.out.suffix != ".h5ad":
        raise UsageError(f"--out {str(args.out)!r} must end in .h5ad")
    if args.out.is_dir():
        raise UsageError(f"--out {str(args.out)!r} is a folder; name the .h5ad file to write")
    batch_cells = args.batch_cells
    n_cells = args.n_cells
    if n_cells is None:
        n_cells = sum(batch_cells) if batch_cells else 1000
    if n_cells < 1:
        raise UsageError(f"--n-cells must be at least 1, got {n_cells}")
    if batch_cells is None:
        if not 1 <= args.batches <= n_cells:
            raise UsageError(f"--batches must be between 1 and --n-cells, got {args.batches}")
        batch_cells = _equal_parts(n_cells, args.batches)
    group_prob = args.group_prob
    if group_prob is None:
        if args.groups < 1:
            raise UsageError(f"--groups must be at least 1, got {args.groups}")
        group_prob = [1 / args.groups] * args.groups
    with _output_folder(args.out.parent, args.out):
        try:
            adata = pp.simulate(
                n_cells,
                args.n_genes,
                batch_cells=batch_cells,
                group_prob=group_prob,
                seed=args.seed,
                lib_loc=args.lib_loc,
            )
        except (TypeError, ValueError) as err:
            raise UsageError(str(err)) from err
        write_h5ad(adata, args.out)
    print(
        f"wrote {adata.n_obs} cells × {adata.n_vars} genes ({len(batch_cells)} batches × "
        f"{len(group_prob)} groups) to {args.out}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # A bare call is a usage error, as for any command that needs a subcommand.
        parser.print_help(sys.stderr)
        return 2
    try:
        with _progress_on_stderr():
            return args.func(args)
    except UsageError as err:
        print(f"sc-synth {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sc-synth {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
