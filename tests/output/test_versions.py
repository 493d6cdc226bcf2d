"""One schema version per kind of file, in one place, checked the same way by every reader,
and documented: docs/compatibility.md names each with its number."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from icpkit.config import Settings
from icpkit.output import versions
from icpkit.output.documents import DocumentError, read_document
from icpkit.output.versions import NewerSchemaError, UnversionedError, check_version

DOC = Path(__file__).parents[2] / "docs" / "compatibility.md"
KINDS = ("SETTINGS", "ICP", "DOCUMENT", "SCORED", "REVIEWS")


def test_the_compatibility_doc_names_every_kind_with_its_current_version() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = dict(re.findall(r"\| `([A-Z]+)` \| (\d+) \|", text))
    assert table == {kind: str(getattr(versions, kind)) for kind in KINDS}


def test_icp_yaml_and_the_icp_write_the_numbers_kept_here() -> None:
    from icpkit.icp.model import ICP

    assert Settings().schema_version == versions.SETTINGS
    assert ICP.model_fields["schema_version"].default == versions.ICP


@pytest.mark.parametrize("found", [0, -1, "1", 1.0, True, None])
def test_anything_but_a_whole_number_from_one_is_not_a_version(found: object) -> None:
    with pytest.raises(UnversionedError, match="is not a scored file schema version"):
        check_version("scored file", found, 1, "f")  # type: ignore[arg-type]


def test_the_version_this_icpkit_reads_and_older_ones_pass() -> None:
    check_version("scored file", 1, 2, "f")
    check_version("scored file", 2, 2, "f")
    with pytest.raises(NewerSchemaError, match="f: written by a newer icpkit"):
        check_version("scored file", 3, 2, "f")


def _doc(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_command_document_reads_back_when_its_version_and_command_fit(tmp_path: Path) -> None:
    doc = {"schema_version": versions.DOCUMENT, "command": "tam", "rows": [{"measure": "x"}]}
    assert read_document(_doc(tmp_path, doc), command="tam") == doc


def test_a_document_of_a_newer_schema_or_another_command_is_refused(tmp_path: Path) -> None:
    newer = _doc(tmp_path, {"schema_version": versions.DOCUMENT + 1, "command": "tam"})
    with pytest.raises(NewerSchemaError, match=r"\(JSON document schema 2\); this one reads 1"):
        read_document(newer)
    tam = _doc(tmp_path, {"schema_version": versions.DOCUMENT, "command": "tam"})
    with pytest.raises(DocumentError, match="of `icp tam`, not of `icp lookalike`"):
        read_document(tam, command="lookalike")
    with pytest.raises(UnversionedError, match="no schema_version"):
        read_document(_doc(tmp_path, [1, 2]))


def test_an_icp_yaml_or_icp_of_a_newer_version_is_refused_naming_both(tmp_path: Path) -> None:
    from icpkit.config import ConfigError, load_settings
    from icpkit.icp.model import ICPError, load_icp

    v1 = Path(__file__).parents[1] / "artifacts" / "v1" / "workspace" / "icp.yaml"
    text = v1.read_text(encoding="utf-8")
    assert text.count("schema_version: 1\n") == 2  # the file's, then its ICP's
    newer = tmp_path / "icp.yaml"
    newer.write_text(text.replace("schema_version: 1\n", "schema_version: 2\n", 1), "utf-8")
    with pytest.raises(ConfigError, match=r"reads icp\.yaml layout 1; allowed: 1; got 2"):
        load_settings(newer)
    icp = load_settings(v1).icp
    assert icp is not None
    with pytest.raises(ICPError, match="reads ICP schema version 1; got 2"):
        load_icp({**icp, "schema_version": 2})
