"""Argument types shared by sub-commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

__all__ = ["unit_fraction"]


def unit_fraction(text: str) -> float:
    """A number in (0, 1], e.g. an IoU threshold; argparse reports anything else as usage (exit 2)."""
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return v
