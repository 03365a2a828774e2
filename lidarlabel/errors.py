"""Exceptions that carry one clear, user-facing sentence.

The command line prints the message of a :class:`LidarLabelError` and exits 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LidarLabelError(Exception):
    """Base class of every error lidarlabel reports to a user without a traceback."""


class InputError(LidarLabelError):
    """Bad input: a file, field or argument that is not what was expected."""


class SchemaError(InputError):
    """A document or file does not follow its schema (names the file and field)."""
