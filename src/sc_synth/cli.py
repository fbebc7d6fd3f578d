"""The ``sc-synth`` command line."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from . import __version__


class UsageError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


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

    demo = commands.add_parser(
        "demo",
        help="run the VAE-vs-GAN study on simulated data (2 batches × 2 groups)",
        description=(
            "Simulate 2 batches × 2 groups, train the VAE, the vanilla GAN and the WGAN-GP on one "
            "half of the cells, generate the other half's composition and judge it against the "
            "held-out cells. Writes metrics.csv, precision_recall.png, embedding.png, "
            "synthetic_<model>.h5ad and report.md into --out."
        ),
    )
    demo.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    demo.add_argument("--quick", action="store_true", help="small data and short training (~2 min)")
    demo.add_argument("--seed", type=int, default=0, help="seed of every step (default 0)")
    demo.set_defaults(func=_demo)

    run = commands.add_parser(
        "run",
        help="run the same study on your own .h5ad file",
        description=(
            "Train generators on one half of INPUT's cells, generate the other half's composition "
            "and judge the synthetic cells against the held-out ones. Same outputs as 'demo'."
        ),
    )
    run.add_argument("input", type=Path, help="an .h5ad file with raw counts")
    run.add_argument("--labels", required=True, help="obs column with cell types")
    run.add_argument("--batch", default=None, help="obs column with batches")
    run.add_argument("--layer", default=None, help="layer with the raw counts (default: X)")
    run.add_argument(
        "--models",
        nargs="+",
        default=["vae", "wgan-gp"],
        choices=["vae", "gan", "vanilla-gan", "wgan-gp"],
        help="generators to train ('gan' means wgan-gp; default: vae wgan-gp)",
    )
    run.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    run.add_argument("--quick", action="store_true", help="short training")
    run.add_argument("--seed", type=int, default=0, help="seed of every step (default 0)")
    run.set_defaults(func=_run)

    simulate = commands.add_parser(
        "simulate",
        help="simulate counts with the Splat model into an .h5ad file",
        description="Simulate counts with known ground truth (see sc_synth.pp.simulate).",
    )
    simulate.add_argument("--n-cells", type=int, default=1000, help="cells (default 1000)")
    simulate.add_argument("--n-genes", type=int, default=2000, help="genes (default 2000)")
    simulate.add_argument(
        "--batch-cells", type=int, nargs="+", default=None, help="cells per batch, e.g. 500 500"
    )
    simulate.add_argument(
        "--group-prob",
        type=float,
        nargs="+",
        default=None,
        help="group probabilities, e.g. 0.5 0.5",
    )
    simulate.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    simulate.add_argument("--out", required=True, type=Path, help="the .h5ad file to write")
    simulate.set_defaults(func=_simulate)
    return parser


def _writable_folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as err:
        raise UsageError(f"cannot write to --out {str(path)!r}: {err.strerror or err}") from err
    return path


def _read(path: Path):
    import anndata as ad

    if not path.is_file():
        raise UsageError(f"input file {str(path)!r} does not exist")
    try:
        return ad.read_h5ad(path)
    except (OSError, KeyError, ValueError) as err:
        raise UsageError(f"cannot read {str(path)!r} as an .h5ad file: {err}") from err


def _demo(args: argparse.Namespace) -> int:
    from ._study import Settings, progress, run_study, simulated_data

    out = _writable_folder(args.out)
    settings = Settings.make(args.quick)
    progress(
        f"simulating {settings.n_cells} cells × {settings.n_genes} genes, 2 batches × 2 groups"
    )
    adata = simulated_data(settings, args.seed)
    run_study(
        adata,
        labels_key="group",
        batch_key="batch",
        models=["vae", "vanilla-gan", "wgan-gp"],
        out=out,
        settings=settings,
        seed=args.seed,
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from ._study import ALIASES, Settings, run_study

    adata = _read(args.input)
    for option, key in (("--labels", args.labels), ("--batch", args.batch)):
        if key is not None and key not in adata.obs:
            raise UsageError(
                f"{option} {key!r} is not a column of {args.input.name}'s obs; "
                f"columns: {', '.join(map(str, adata.obs.columns)) or 'none'}"
            )
    if args.layer is not None and args.layer not in adata.layers:
        raise UsageError(f"--layer {args.layer!r} is not a layer of {args.input.name}")
    out = _writable_folder(args.out)
    models = list(dict.fromkeys(ALIASES.get(m, m) for m in args.models))
    run_study(
        adata,
        labels_key=args.labels,
        batch_key=args.batch,
        models=models,
        out=out,
        settings=Settings.make(args.quick),
        seed=args.seed,
        layer=args.layer,
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from . import pp
    from ._io import write_h5ad

    if args.out.suffix != ".h5ad":
        raise UsageError(f"--out {str(args.out)!r} must end in .h5ad")
    _writable_folder(args.out.parent if str(args.out.parent) else Path("."))
    try:
        adata = pp.simulate(
            args.n_cells,
            args.n_genes,
            batch_cells=args.batch_cells,
            group_prob=args.group_prob,
            seed=args.seed,
        )
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from err
    write_h5ad(adata, args.out)
    print(f"wrote {adata.n_obs} cells × {adata.n_vars} genes to {args.out}")
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
        return args.func(args)
    except UsageError as err:
        print(f"sc-synth {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sc-synth {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
