"""What every command shares about failing: its exit codes, and bad input worded as one line."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """The command exits 2 with this one line: the input names the thing and what was expected."""
