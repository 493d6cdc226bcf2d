"""The schema version of every kind of file icpkit writes, one number per kind, in one place.

A version is raised when a reader of the old layout would misread the new one: a column or
key renamed or removed, a value whose meaning or unit changed. Adding a column or a key is
not a change: readers ignore what they do not know. Every writer takes its number from here,
and every reader refuses a number above the one it knows, saying so, rather than misreading
(see docs/compatibility.md, which also lists each breaking change so far)::

    >>> check_version("scored file", 1, SCORED, "s.csv")
    >>> try:
    ...     check_version("scored file", 2, SCORED, "s.csv")
    ... except NewerSchemaError as exc:
    ...     print(exc)
    s.csv: written by a newer icpkit (scored file schema 2); this one reads 1
"""

from __future__ import annotations

from icpkit.errors import IcpkitError

SETTINGS = 1
"""``icp.yaml``: the layout of its sections, its ``schema_version`` key."""
ICP = 1
"""The ICP document: the ``icp:`` section of icp.yaml and each ``.icp/versions/vNNNN.yaml``."""
DOCUMENT = 1
"""The JSON document of every ``--format json`` and the table of every ``--format csv``."""
SCORED = 1
"""Scored files, ``icp score FILE --out`` as CSV, Parquet or JSON: their columns and header."""
REVIEWS = 1
"""The review log, ``.icp/reviews.json``: reviews, adoptions and rollbacks of the ICP in force."""

KEY = "schema_version"
"""The version's key in a JSON document and its column in a CSV (always the last one)."""
PARQUET_PREFIX = "icpkit."
"""Prefix of the key-value metadata icpkit writes into a Parquet file's footer."""


class NewerSchemaError(IcpkitError):
    """A file written by a newer icpkit, in a layout this one would misread."""


class UnversionedError(IcpkitError):
    """A file without the schema version every file of its kind carries."""


def check_version(kind: str, found: int, reads: int, where: str) -> None:
    """Refuse ``found`` (the version ``where`` carries) when it is newer than ``reads`` (the
    one this icpkit writes and reads), or not a version at all."""
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise UnversionedError(
            f"{where}: {KEY} {found!r} is not a {kind} schema version (a whole number from 1)"
        )
    if found > reads:
        raise NewerSchemaError(
            f"{where}: written by a newer icpkit ({kind} schema {found}); this one reads {reads}",
            hint="upgrade icpkit (pip install -U icpkit) to read it",
        )
