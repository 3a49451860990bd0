"""The command line: ``python -m cmtoy figures`` and ``python -m cmtoy train`` (also ``cmtoy ...``).

``figures`` regenerates the documentation figures (:mod:`cmtoy.viz.figures`), with the
reference model of :mod:`cmtoy.reference` for those that show a trained model. ``train``
trains on the seed mixture (or a mixture given on the command line), prints the exact
metrics and saves the model with its training config and metrics.

Each subcommand is one ``add_<name>_command(subparsers)`` function that registers its
parser and sets ``handler`` to a function ``(args) -> exit status``. Errors the user can
fix (an unknown figure name, a directory that cannot be written) end with a one-line
message on stderr and a non-zero status, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .interpolant import Interpolant
from .targets import SEED_MIXTURE, GaussianMixture
from .training import METHODS, TrainConfig, train

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
    from .viz.figures import FIGURES, needs_model, write_figures  # matplotlib loads only for this command

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
        Path(args.out).mkdir(parents=True, exist_ok=True)
        learned = {}
        if needs_model(args.only):
            from .reference import REFERENCE_FILE, reference_model

            interp = Interpolant(SEED_MIXTURE, "linear")
            model, history = reference_model(interp, Path(args.out) / REFERENCE_FILE, retrain=args.retrain, log=print)
            learned = dict(model=model, history=history)
        write_figures(args.out, args.only, log=print, **learned)
    except OSError as error:
        where = error.filename or args.out
        print(f"cmtoy figures: cannot write to {where}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


def add_train_command(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a consistency model and print its exact metrics",
        description="Train f_theta on a 1-D mixture (default: the seed mixture), print the exact "
                    "1- and 2-step W1 and flow-map error, and save the model as .npz.",
    )
    parser.add_argument("--method", choices=METHODS, default="ct", help="ct, cd or ict (default ct)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the config's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--schedule", choices=("linear", "cosine"), default="linear")
    parser.add_argument("--means", type=float, nargs="+", default=None, help="mixture means (default: the seed mixture)")
    parser.add_argument("--stds", type=float, nargs="+", default=None, help="mixture standard deviations")
    parser.add_argument("--weights", type=float, nargs="+", default=None, help="mixture weights")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop after this wall time")
    parser.add_argument("--out", default="model.npz", help="where to save the model (.npz)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run_train)


def train_command(args):
    """Train, print the final metrics and save the model for parsed arguments; returns (model, history)."""
    if args.means is None:
        target = SEED_MIXTURE
    else:
        stds = args.stds if args.stds is not None else [0.1] * len(args.means)
        target = GaussianMixture(args.means, stds, args.weights)
    interp = Interpolant(target, args.schedule)
    overrides = {"steps": args.steps} if args.steps is not None else {}
    config = TrainConfig(method=args.method, seed=args.seed, max_seconds=args.max_seconds,
                         progress=not args.no_progress, **overrides)
    model, history = train(interp, config)
    final = history["evals"][-1]
    print(f"{config.method}: {history['steps_done']} steps in {history['seconds']:.1f} s")
    print(f"  W1 1-step {final['w1_1step']:.4f}   W1 2-step {final['w1_2step']:.4f}   "
          f"flow-map error {final['flow_map_error']:.4f}")
    config_dict = dataclasses.asdict(config.resolved())  # the settings the run used
    model.save(args.out, extra={"train_config": config_dict, "target": repr(target), "metrics": final})
    print(f"  saved to {args.out}")
    return model, history


def run_train(args):
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
