"""Pure functions that turn messy CRM cell values into canonical ones.

Each normalizer takes the raw cell text and returns the canonical value, ``None``
for a blank cell, or raises :class:`Unreadable` with a short reason that the
quarantine records next to the file, line, column and value.
"""

from icpkit.errors import IcpkitError


class Unreadable(IcpkitError, ValueError):
    """A cell value that cannot be normalized; ``str(exc)`` is the reason shown to the user."""
