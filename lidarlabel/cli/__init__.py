"""The ``lidarlabel`` command: one entry point, one module per sub-command.

Every module in :mod:`lidarlabel.cli.commands` that defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int`` becomes a sub-command. Heavy
imports (Qt, open3d) belong inside ``run`` so ``lidarlabel --help`` stays fast.

Exit codes: 0 success, 1 bad input (one clear message, no traceback), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import _thread
import argparse
import importlib
import pkgutil
import sys
import threading
from collections.abc import Sequence

from lidarlabel import __version__
from lidarlabel.errors import LidarLabelError

__all__ = ["build_parser", "main"]


def _command_modules():
    from lidarlabel.cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"lidarlabel.cli.commands.{info.name}")
        if all(hasattr(mod, a) for a in ("NAME", "HELP", "add_arguments", "run")):
            yield mod


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="lidarlabel",
        description="Annotate autonomous-driving LiDAR and camera data with 3D cuboids.",
    )
    parser.add_argument("--version", action="version", version=f"lidarlabel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _redeliver_lost_interrupts() -> None:
    """Make a Ctrl-C that lands in a garbage-collection callback still stop the command.

    Python cannot raise out of such a callback: it reports the KeyboardInterrupt
    to ``sys.unraisablehook`` ("Exception ignored in ...") and carries on, so the
    user's Ctrl-C did nothing. Re-deliver it to the main thread instead, where it
    is raised at the next safe point.
    """
    default = sys.unraisablehook

    def hook(unraisable) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            # from another thread, a moment later: raised here, it would be swallowed again
            threading.Timer(0.01, _thread.interrupt_main).start()
            return
        default(unraisable)

    sys.unraisablehook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns (and, as a script, exits with) the exit code."""
    _redeliver_lost_interrupts()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args._run(args) or 0)
    except LidarLabelError as exc:
        print(f"lidarlabel {args.command}: error: {exc}", file=sys.stderr)
        code = 1
    except OSError as exc:  # a file that cannot be read or written: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"lidarlabel {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print(f"lidarlabel {args.command}: interrupted; nothing half-written was kept", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
