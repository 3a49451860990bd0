"""The ``train`` subcommand: ``python -m cmtoy train --method ct --steps N --seed S --out model.npz``.

:func:`add_train_arguments` fills an argparse (sub)parser; :func:`train_command` runs it:
it trains on the seed mixture (or a mixture given on the command line), prints the final
metrics and saves the model with its training config and metrics.
"""

from __future__ import annotations

import dataclasses

from .interpolant import Interpolant
from .targets import SEED_MIXTURE, GaussianMixture
from .training import METHODS, TrainConfig, train

__all__ = ["add_train_arguments", "train_command"]


def add_train_arguments(parser):
    """Add the options of ``cmtoy train`` to an argparse parser; returns the parser."""
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
    return parser


def train_command(args):
    """Run ``cmtoy train`` for parsed arguments; returns (model, history)."""
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
    config_dict = dataclasses.asdict(config)
    model.save(args.out, extra={"train_config": config_dict, "target": repr(target), "metrics": final})
    print(f"  saved to {args.out}")
    return model, history
