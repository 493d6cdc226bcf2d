"""JSON Schema of the ICP document, so editors can check ``icp.yaml`` as it is typed."""

from __future__ import annotations

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
