"""The JSON Schema of icp.yaml covers every model field, so editors can check the file."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion, IntentSignal, dump_icp
from icpkit.icp.schema import icp_json_schema

MODELS: list[type[BaseModel]] = [ICP, Criterion, IntentSignal, Exclusion, Evidence]


def definition(schema: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    return schema if model is ICP else schema["$defs"][model.__name__]


def test_schema_is_draft_2020_12_with_the_icpkit_id() -> None:
    schema = icp_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://icpkit.dev/schema/icp-1.json"
    assert schema["type"] == "object"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_schema_has_every_field_with_a_description(model: type[BaseModel]) -> None:
    part = definition(icp_json_schema(), model)
    assert set(part["properties"]) == set(model.model_fields)
    undocumented = [n for n, p in part["properties"].items() if not p.get("description")]
    assert undocumented == []
    assert part.get("additionalProperties") is False
    assert part.get("description")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_schema_requires_exactly_the_required_fields(model: type[BaseModel]) -> None:
    part = definition(icp_json_schema(), model)
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert set(part.get("required", [])) == required


def test_required_fields_are_the_ones_the_document_cannot_do_without() -> None:
    schema = icp_json_schema()
    assert set(schema["required"]) == {"derived_at", "data_fingerprint"}
    assert set(schema["$defs"]["Evidence"]["required"]) == {
        "n_closed",
        "wins",
        "win_rate",
        "base_rate",
    }
    assert set(schema["$defs"]["Criterion"]["required"]) == {"id", "attribute", "source"}


def test_schema_asks_for_a_reason_on_human_and_locked_rules() -> None:
    schema = icp_json_schema()
    for name in ("Criterion", "IntentSignal", "Exclusion"):
        conditions = schema["$defs"][name]["allOf"]
        assert {
            "if": {"properties": {"source": {"const": "human"}}, "required": ["source"]},
            "then": {"required": ["reason"]},
        } in conditions


def test_dumped_sample_uses_only_keys_the_schema_knows(sample_icp: ICP) -> None:
    schema = icp_json_schema()
    data = dump_icp(sample_icp)
    assert set(data) <= set(schema["properties"])
    lists = {"boundary": "Criterion", "fit": "Criterion", "intent": "IntentSignal"}
    lists["exclusions"] = "Exclusion"
    evidence_keys = set(schema["$defs"]["Evidence"]["properties"])
    for name, model in lists.items():
        known = set(schema["$defs"][model]["properties"])
        for item in data[name]:
            assert set(item) <= known
            assert set(item.get("evidence", {})) <= evidence_keys


def test_sample_validates_against_the_schema_when_jsonschema_is_installed(
    sample_icp: ICP,
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(dump_icp(sample_icp), icp_json_schema())
