"""JSON Schema of the ICP document, so editors can check ``icp.yaml`` as it is typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from icpkit.icp.model import ICP, SCHEMA_ID

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Rules the models check in code, restated so editors flag them too.
_REASON_WHEN_HUMAN_OR_LOCKED: list[dict[str, Any]] = [
    {
        "if": {"properties": {"source": {"const": "human"}}, "required": ["source"]},
        "then": {"required": ["reason"]},
    },
    {
        "if": {"properties": {"locked": {"const": True}}, "required": ["locked"]},
        "then": {"required": ["reason"]},
    },
]
_VALUES_OR_RANGE: dict[str, Any] = {
    "anyOf": [{"required": ["values"]}, {"required": ["min"]}, {"required": ["max"]}]
}


def icp_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an ICP document, built from the models."""
    body = ICP.model_json_schema(mode="validation")
    definitions = body.get("$defs", {})
    for name in ("Criterion", "IntentSignal", "Exclusion"):
        rules = list(_REASON_WHEN_HUMAN_OR_LOCKED)
        if name != "IntentSignal":
            rules.append(_VALUES_OR_RANGE)
        definitions[name]["allOf"] = rules
    return {"$schema": DRAFT, "$id": SCHEMA_ID, **body}


SETTINGS_SCHEMA_ID = "https://icpkit.dev/schema/icp-yaml-1.json"


def settings_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the whole ``icp.yaml``, the ICP under ``icp`` included.

    Built from the models; the copy shipped in ``icpkit/schemas/icp.schema.json`` is this,
    written by ``scripts/gen_docs.py``. Cross-field rules (fit_low < fit_high, rising
    buckets) are checked by the models only.
    """
    from icpkit.config import Settings

    body = Settings.model_json_schema(mode="validation")
    definitions: dict[str, Any] = body.setdefault("$defs", {})
    icp = icp_json_schema()
    for name, part in icp.pop("$defs", {}).items():
        if name in definitions and definitions[name] != part:
            raise ValueError(f"schema definition {name} is defined twice")
        definitions[name] = part
    for key in ("$schema", "$id"):
        icp.pop(key, None)
    definitions["ICP"] = icp
    description = body["properties"]["icp"].get("description", "")
    body["properties"]["icp"] = {
        "anyOf": [{"$ref": "#/$defs/ICP"}, {"type": "null"}],
        "default": None,
        "description": description,
    }
    return {"$schema": DRAFT, "$id": SETTINGS_SCHEMA_ID, **body}


SETTINGS_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "icp.schema.json"


def settings_schema_text() -> str:
    """The shipped schema file's text: the schema as indented JSON, keys in model order."""
    return json.dumps(settings_json_schema(), indent=2, ensure_ascii=False) + "\n"
