"""The command line: ``python -m cmtoy figures`` and ``python -m cmtoy train`` (also ``cmtoy ...``).

``figures`` regenerates the documentation figures (:mod:`cmtoy.viz.figures`), with the
reference model of :mod:`cmtoy.reference` for those that show a trained model. ``train``
trains on the seed mixture (or a mixture given on the command line), prints the exact
metrics and saves the model with its training config and metrics.

Each subcommand is one ``add_<name>_command(subparsers)`` function that registers its
parser and sets ``handler`` to a function ``(args) -> exit status``. Every error ends
with one line on stderr and a non-zero status, never a traceback: 2 for a bad argument
or setting (argparse's usage errors included), 1 for a file that cannot be written or a
run that fails (a diverged loss, memory), 130 for Ctrl-C. Arguments are checked before
any training starts, and none is silently ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from .interpolant import Interpolant
from .schedules import SCHEDULES
from .targets import SEED_MIXTURE, GaussianMixture
from .training import METHODS, TrainConfig, train

__all__ = ["main", "build_parser"]

class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr (status 2), without the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def finite_number(text):
    """An argparse type: a finite float ('inf' and 'nan' cannot be saved in a model's JSON)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text.strip()!r}")
    return value


def positive_number(text):
    """An argparse type: a finite float > 0."""
    value = finite_number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text.strip()!r}")
    return value


# argparse takes "-1e-3" (and "-inf") for an option, as it only knows "-1" and "-1.5" as
# negative numbers: such values of numeric options get a leading space, which makes them
# values for argparse and which float() and int() ignore.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)
_NUMERIC_OPTIONS = ("--means", "--stds", "--weights", "--max-seconds", "--steps", "--seed")


def numbers_not_options(argv):
    """argv with the negative numbers given to numeric options marked as values (see above)."""
    out, option = [], None
    for token in argv:
        if _NEGATIVE_NUMBER.match(token) and option in _NUMERIC_OPTIONS:
            token = " " + token
        elif token.startswith("-"):
            option = token
        out.append(token)
    return out


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
    from .viz.figures import FIGURES, needs_flow_map, needs_model, write_figures  # matplotlib loads only for this command

    if args.list and (args.only or args.retrain):  # say so rather than ignore them
        print(f"cmtoy figures: --list lists every figure and writes nothing; drop "
              f"{'--only' if args.only else '--retrain'}", file=sys.stderr)
        return 2
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
    if args.retrain and not (needs_model(args.only) or needs_flow_map(args.only)):
        print("cmtoy figures: --retrain has no effect: none of the figures asked for shows the "
              "trained model", file=sys.stderr)
        return 2
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        learned = {}
        if needs_model(args.only):
            from .reference import REFERENCE_FILE, reference_model

            interp = Interpolant(SEED_MIXTURE, "linear")
            model, history = reference_model(interp, Path(args.out) / REFERENCE_FILE, retrain=args.retrain, log=print)
            learned = dict(model=model, history=history)
        if needs_flow_map(args.only):
            from .reference import FLOW_MAP_FILE, FLOW_MAP_TRAINING, reference_model

            learned["flow_map"] = reference_model(Interpolant(SEED_MIXTURE, "linear"), Path(args.out) / FLOW_MAP_FILE,
                                                  training=FLOW_MAP_TRAINING, retrain=args.retrain, log=print)[0]
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
    parser.add_argument("--method", choices=tuple(METHODS), default="ct", help=f"one of {', '.join(METHODS)} (default ct)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the config's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--schedule", choices=tuple(SCHEDULES), default="linear")
    parser.add_argument("--means", type=finite_number, nargs="+", default=None,
                        help="mixture means (default: the seed mixture)")
    parser.add_argument("--stds", type=finite_number, nargs="+", default=None,
                        help="mixture standard deviations, with --means (default: 0.1 each)")
    parser.add_argument("--weights", type=finite_number, nargs="+", default=None,
                        help="mixture weights, with --means (default: equal)")
    parser.add_argument("--max-seconds", type=positive_number, default=None, help="stop after this wall time")
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
    print(f"training {config.method} for {config.steps} steps on {target!r}", flush=True)
    model, history = train(interp, config)
    final = history["evals"][-1]
    print(f"{config.method}: {history['steps_done']} steps in {history['seconds']:.1f} s")
    print(f"  W1 1-step {final['w1_1step']:.4f}   W1 2-step {final['w1_2step']:.4f}   "
          f"flow-map error {final['flow_map_error']:.4f}")
    config_dict = dataclasses.asdict(config.resolved())  # the settings the run used
    model.save(args.out, extra={"train_config": config_dict, "target": repr(target), "metrics": final})
    print(f"  saved to {args.out}")
    return model, history


def check_train_args(args):
    """The problems of parsed ``train`` arguments that need no training to see, as
    (message, exit status), or None. Checked before training, not after a minute of it."""
    if args.means is None:
        given = [name for name in ("stds", "weights") if getattr(args, name) is not None]
        if given:
            return f"--{given[0]} needs --means (without --means the seed mixture is used)", 2
    out = Path(args.out)
    folder = out.resolve().parent
    if not folder.is_dir():
        return f"cannot write {args.out}: folder {folder} {'is a file' if folder.exists() else 'does not exist'}", 1
    if out.is_dir():
        return f"cannot write {args.out}: it is a directory", 1
    try:  # the one sure test that the folder takes new files (permissions, read-only disks)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"cannot write {args.out}: {error.strerror or error}", 1
    return None


def run_train(args):
    problem = check_train_args(args)
    if problem is not None:
        message, status = problem
        print(f"cmtoy train: {message}", file=sys.stderr)
        return status
    try:
        train_command(args)
    except OSError as error:
        print(f"cmtoy train: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as error:  # a bad setting or mixture: the message names it
        print(f"cmtoy train: {one_line(error)}", file=sys.stderr)
        return 2
    return 0


COMMANDS = (add_figures_command, add_train_command)


def build_parser():
    parser = _Parser(
        prog="cmtoy", description="See how consistency models work, exactly, in one dimension.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def one_line(error):
    """An exception's message on one line (a message spanning lines would look like two errors)."""
    return " ".join(str(error).split()) or type(error).__name__


def main(argv=None):
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status.

    Whatever goes wrong ends here as one line on stderr: the handlers report what they
    expect; anything that escapes them still gets a line and a status, never a traceback.
    argparse's own exit (``--help``, a usage error) passes through as SystemExit.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(numbers_not_options(argv))
        return args.handler(args)
    except KeyboardInterrupt:
        print("cmtoy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output left (``cmtoy figures --list | head -1``)
        # point stdout at devnull so that the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except FloatingPointError as error:  # e.g. a diverged training loss, which names the step
        print(f"cmtoy: {one_line(error)}", file=sys.stderr)
        return 1
    except MemoryError:
        print("cmtoy: out of memory; try fewer steps, a smaller batch or fewer samples", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as error:
        print(f"cmtoy: {one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cmtoy: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: still one line, with what to report
        print(f"cmtoy: internal error ({type(error).__name__}: {one_line(error)}); please report it",
              file=sys.stderr)
        return 1
