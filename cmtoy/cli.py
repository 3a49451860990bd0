"""The command line: ``python -m cmtoy figures`` and ``python -m cmtoy train`` (also ``cmtoy ...``).

Each subcommand is one ``add_<name>_command(subparsers)`` function that registers its
parser and sets ``handler`` to a function ``(args) -> exit status``. Errors the user can
fix (an unknown figure name, a directory that cannot be written) end with a one-line
message on stderr and a non-zero status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def add_figures_command(subparsers):
    parser = subparsers.add_parser(
        "figures", help="regenerate the documentation figures",
        description="Regenerate the documentation figures (byte-stable: the same files on every run).",
    )
    parser.add_argument("--out", default="figures", metavar="DIR",
                        help="output directory, created if missing (default: figures/ in the current directory)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="write only these figures (see --list)")
    parser.add_argument("--list", action="store_true", help="list the figure names and files, then exit")
    parser.add_argument("--retrain", action="store_true",
                        help="train the reference model of the learned-model figures again, "
                             "even if DIR holds an up-to-date one")
    parser.set_defaults(handler=run_figures)


def run_figures(args):
    from .figures import FIGURES, write_figures  # matplotlib loads only for this command

    if args.list:
        for name, spec in FIGURES.items():
            print(f"{name:34s} {spec.filename}")
        return 0
    unknown = [name for name in args.only or () if name not in FIGURES]
    if unknown:
        print(f"cmtoy figures: unknown figure name {unknown[0]!r}; valid names are:", file=sys.stderr)
        for name in FIGURES:
            print(f"  {name}", file=sys.stderr)
        return 2
    try:
        write_figures(args.out, args.only, retrain=args.retrain, log=print)
    except OSError as error:
        where = error.filename or args.out
        print(f"cmtoy figures: cannot write to {where}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


def add_train_command(subparsers):
    from .train_cli import add_train_arguments

    parser = subparsers.add_parser(
        "train", help="train a consistency model and print its exact metrics",
        description="Train f_theta on a 1-D mixture (default: the seed mixture), print the exact "
                    "1- and 2-step W1 and flow-map error, and save the model as .npz.",
    )
    add_train_arguments(parser)
    parser.set_defaults(handler=run_train)


def run_train(args):
    from pathlib import Path

    from .train_cli import train_command

    folder = Path(args.out).resolve().parent
    if not folder.is_dir():  # say so before training, not after a minute of it
        print(f"cmtoy train: cannot write {args.out}: folder {folder} does not exist", file=sys.stderr)
        return 1
    try:
        train_command(args)
    except OSError as error:
        print(f"cmtoy train: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a bad setting or mixture: the message names it
        print(f"cmtoy train: {error}", file=sys.stderr)
        return 2
    return 0


COMMANDS = (add_figures_command, add_train_command)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cmtoy", description="See how consistency models work, exactly, in one dimension.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
