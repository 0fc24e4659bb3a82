"""Command-line interface: ``replenish solve|evaluate|compare|explain|recommend|fleet|tune|demo``.

The CLI is the only layer that parses arguments and prints.  Each sub-command
lives in its own module (``replenish.cli.<module>``) with an ``add_<name>``
function that declares its arguments and a ``cmd_<name>`` function that runs
it; :data:`COMMANDS` lists them.  Only the module of the command being run is
imported, so ``replenish --help`` and light commands start at once.

Bad input (config, policy file, flags) prints one line ``error: <field> =
<value>: <reason>`` on stderr and exits with code 2; results are written
atomically, so a failed run never destroys earlier outputs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

#: sub-command → (module under ``replenish.cli``, one-line help), in the order ``--help`` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "solve": ("solve", "find a policy with one method and evaluate it"),
    "evaluate": ("evaluate", "evaluate a saved policy on a problem"),
    "compare": ("compare", "learn on the training window, replay every policy on the test window"),
    "explain": ("explain", "explain the order of a policy in a state: candidate values, next days, "
                           "neighbouring states"),
    "recommend": ("explain", "today's order for an observed state, from any saved policy"),
    "fleet": ("fleet", "run every store × product series (train window → test window), in parallel"),
    "tune": ("tune", "tune a learner's hyperparameters with Optuna (pruning, resumable storage)"),
    "demo": ("demo", "the bike shop and a bakery series end to end, with an HTML report"),
}

Runner = Callable[[argparse.Namespace], int]


def _command(name: str) -> tuple[Callable[[argparse.ArgumentParser], None], Runner]:
    module = importlib.import_module(f"replenish.cli.{COMMANDS[name][0]}")
    stem = name.replace("-", "_")
    return getattr(module, f"add_{stem}"), getattr(module, f"cmd_{stem}")


class _Version(argparse.Action):
    """``--version``: reads the package metadata only when asked (it costs start-up time)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from replenish import __version__

        parser.exit(message=f"replenish {__version__}\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser.

    With ``argv``, only the sub-command named in it gets its arguments (its
    module is imported); without, every sub-command does (for docs and tests).
    """
    parser = argparse.ArgumentParser(
        prog="replenish",
        description="Find the best daily ordering policy: exact DP, Q-learning, DQN and "
                    "tuned classic policies, compared on the same demand.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), None)
    for name, (_module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if argv is None or name == chosen:
            add, run = _command(name)
            add(p)
            p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:  # Ctrl-C while the command's modules load is an interruption too, not a traceback
        from replenish.core.validate import SpecError

        argv = list(sys.argv[1:] if argv is None else argv)
        args = build_parser(argv).parse_args(argv)
        try:
            return int(args._run(args))
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
