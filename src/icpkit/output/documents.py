"""Reading back a JSON document a command wrote (``--format json``, docs/json.md), after
checking its schema version, so that a script never misreads one from a newer icpkit::

    doc = read_document(Path("tam.json"), command="tam")
    doc["rows"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from icpkit.errors import IcpkitError
from icpkit.output.versions import DOCUMENT, KEY, UnversionedError, check_version

KIND = "JSON document"


class DocumentError(IcpkitError):
    """A file that is not the JSON document asked for."""


def read_document(path: Path, command: str | None = None) -> dict[str, Any]:
    """The JSON document at ``path`` (written by ``icp <command> --format json``), refused when
    it is of a newer schema than this icpkit reads, or (with ``command``) of another command."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(f"{path}: not a readable JSON document ({exc})") from exc
    if not isinstance(doc, dict) or KEY not in doc:
        raise UnversionedError(
            f"{path}: no {KEY} key at the top: not a document an icpkit command wrote"
        )
    check_version(KIND, doc[KEY], DOCUMENT, str(path))
    if command is not None and doc.get("command") != command:
        raise DocumentError(
            f"{path}: a document of `icp {doc.get('command')}`, not of `icp {command}`"
        )
    return doc
