"""Regenerate the reference parts of the docs from the code: settings, recognized columns and
the JSON Schema of ``icp.yaml`` shipped in the package.

Run after changing a setting or a field: ``python scripts/gen_docs.py``. The tests fail when
the docs and the code disagree.
"""

from __future__ import annotations

import re
from pathlib import Path

from icpkit.config import SCHEMA_PATH as SETTINGS_SCHEMA_PATH
from icpkit.config import settings_schema_text, settings_table
from icpkit.ingest.fields import FIELDS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def settings_rows() -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | `{default}` | {help} |" for name, default, help in settings_table()]
    return "\n".join(lines)


def field_tables() -> str:
    out: list[str] = []
    for entity, specs in FIELDS.items():
        out += [
            f"## {entity}",
            "",
            "| field | kind | column names (rank 1; rank 2; ...) | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for spec in specs:
            ranks = "; ".join(", ".join(f"`{n}`" for n in names) for names in spec.synonyms)
            out.append(f"| `{spec.name}` | {spec.kind} | {ranks} | {spec.help} |")
        out.append("")
    return "\n".join(out)


def replace_between(path: Path, marker: str, body: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
    path.write_text(pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text))


if __name__ == "__main__":
    replace_between(DOCS / "settings.md", "settings", settings_rows())
    replace_between(DOCS / "ingest.md", "fields", field_tables())
    SETTINGS_SCHEMA_PATH.write_text(settings_schema_text())
