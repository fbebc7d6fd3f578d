"""The ``sc-synth`` command line."""

from __future__ import annotations

import argparse
import sys

from . import __version__


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
    parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # A bare call is a usage error, as for any command that needs a subcommand.
        parser.print_help(sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
