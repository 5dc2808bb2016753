"""The ``dan-dice`` command line.

Every command reports bad input (missing file, wrong columns, unknown option...) as one line
``dan-dice: error: ...`` on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

USAGE_ERRORS = (ValueError, LookupError, OSError)
"""Errors caused by the user's input or files; anything else is a bug and keeps its traceback."""


def run_guarded(main: Callable[[], int | None], prog: str = "dan-dice") -> int:
    """Run ``main`` and turn a usage error into a one-line message and exit status 2."""
    try:
        return main() or 0
    except USAGE_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _experiments(args: argparse.Namespace) -> int | None:
    from .experiments import main

    return main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dan-dice", description="GloVe DAN text classifiers with Dice-family losses."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    experiments = commands.add_parser(
        "experiments",
        help="reproduce the study (same as run_experiments.py; --help for its options)",
        add_help=False,
    )
    experiments.add_argument("rest", nargs=argparse.REMAINDER)
    experiments.set_defaults(handler=_experiments)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
