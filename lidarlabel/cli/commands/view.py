"""``lidarlabel view``: the annotator app."""

from __future__ import annotations

import argparse
from pathlib import Path

from lidarlabel.errors import InputError

NAME = "view"
HELP = "open the annotator app on a scene (or render a screenshot with --screenshot)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", nargs="?", help="scene file (.h5); without it, open one from the File menu")
    p.add_argument("--labels", help="label document to open (default: the latest saved version)")
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG at a fixed size and exit")
    p.add_argument("--frame", type=int, help="frame to show first (0-based)")
    p.add_argument("--author", help="name recorded in saved versions (default: $USER)")


def _require_display() -> None:
    """On Linux, refuse with one line when there is no display (Qt would abort with a core dump)."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return
    raise InputError("no display to open the app on (DISPLAY is not set); on a machine without a screen "
                     "use a virtual one: xvfb-run -a lidarlabel view ...")


def run(args: argparse.Namespace) -> int:
    if args.scene is not None and not Path(args.scene).is_file():
        raise InputError(f"{args.scene}: scene: expected an existing .h5 scene file, got no such file")
    if args.labels is not None and not Path(args.labels).is_file():
        raise InputError(f"{args.labels}: labels: expected an existing label document, got no such file")
    if args.screenshot is not None and args.scene is None:
        raise InputError("--screenshot: expected a SCENE to render, got none")
    if args.frame is not None and args.frame < 0:
        raise InputError(f"--frame: expected a frame index >= 0, got {args.frame}")
    if args.scene is not None and args.frame is not None:
        from lidarlabel.io.scene import SceneReader

        with SceneReader.open(args.scene) as r:
            if args.frame >= r.num_frames:
                raise InputError(f"{args.scene}: --frame: expected 0..{r.num_frames - 1}, got {args.frame}")
    _require_display()
    from lidarlabel.viewer.app import run_viewer

    return run_viewer(args.scene, args.labels, args.screenshot, args.frame, args.author)
