"""The JSON Schema of icp.yaml covers every model field, so editors can check the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

import icpkit
from helpers import DemoWorkspaces
from icpkit.config import SCHEMA_PATH as SETTINGS_SCHEMA_PATH
from icpkit.config import ConfigError, Settings, load_settings, settings_schema_text
from icpkit.icp.model import (
    ICP,
    Criterion,
    Evidence,
    Exclusion,
    IntentSignal,
    dump_icp,
    icp_json_schema,
)
from icpkit.yamlfile import YamlProblem, parse_yaml

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


def test_sample_validates_against_the_schema(sample_icp: ICP) -> None:
    jsonschema.validate(dump_icp(sample_icp), icp_json_schema())


# --- the whole icp.yaml ------------------------------------------------------------------

TAMPERED = Path(__file__).parent.parent / "fixtures" / "icp_yaml"

# Rules across two keys (or two list items) that JSON Schema cannot state: the models refuse them.
MODELS_ONLY = {
    "all_caps_zero",
    "fit_low_above_fit_high",
    "fit_low_equal_to_fit_high",
    "icp_intent_window_backwards",
    "icp_min_above_max",
    "impossible_date",
    "repeated_employee_bucket",
    "tam_narrow_above_broad",
    "tier_shares_out_of_order",
    "tier_thresholds_not_falling",
    "unreachable_tier1",
    "unsorted_employee_buckets",
    "unsorted_signal_windows",
}


def test_the_shipped_schema_file_is_the_one_the_models_generate() -> None:
    shipped = Path(icpkit.__file__).parent / "schemas" / "icp.schema.json"
    assert shipped == SETTINGS_SCHEMA_PATH
    assert shipped.read_text(encoding="utf-8") == settings_schema_text(), (
        "run: python scripts/gen_docs.py"
    )


def test_settings_are_read_against_the_shipped_schema_and_built_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command reads icp.yaml against the schema: the shipped file, not one built from
    the models each time (the same, as the test above holds); built when the file is gone."""
    import icpkit.config as config

    shipped = tmp_path / "icp.schema.json"
    shipped.write_text(json.dumps({"marker": True}), encoding="utf-8")
    monkeypatch.setattr(config, "SCHEMA_PATH", shipped)
    config.settings_schema.cache_clear()
    try:
        assert config.settings_schema() == {"marker": True}
        config.settings_schema.cache_clear()
        monkeypatch.setattr(config, "SCHEMA_PATH", tmp_path / "gone.json")
        assert config.settings_schema() == config.settings_json_schema()
    finally:
        config.settings_schema.cache_clear()


def test_the_whole_file_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(SETTINGS_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(Settings.model_fields)


def test_default_settings_with_an_icp_validate_against_the_shipped_schema(
    sample_icp: ICP,
) -> None:
    schema = json.loads(SETTINGS_SCHEMA_PATH.read_text(encoding="utf-8"))
    data = Settings(name="Acme", icp=dump_icp(sample_icp)).model_dump(mode="json")
    jsonschema.validate(data, schema)


def test_an_icp_section_with_an_unknown_key_fails_the_schema(sample_icp: ICP) -> None:
    schema = json.loads(SETTINGS_SCHEMA_PATH.read_text(encoding="utf-8"))
    icp = dump_icp(sample_icp)
    icp["fit"][0]["valuse"] = ["x"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"icp": icp}, schema)


def _readable(name: str) -> dict[str, Any] | None:
    try:
        doc = parse_yaml((TAMPERED / f"{name}.yaml").read_bytes().decode("utf-8"), schema=SCHEMA)
    except (UnicodeDecodeError, YamlProblem):
        return None  # refused before any schema could look at it
    return doc.data if isinstance(doc.data, dict) else None


SCHEMA = json.loads(SETTINGS_SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(p.stem for p in TAMPERED.glob("*.yaml")))
def test_each_tampered_file_is_refused_by_the_schema_or_by_the_models(name: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(TAMPERED / f"{name}.yaml")
    data = _readable(name)
    if data is None:
        return
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if name in MODELS_ONLY:
        assert errors == [], "the schema now catches this: drop it from MODELS_ONLY"
    else:
        assert errors, f"{name}: the schema accepts a file the models refuse"


@pytest.mark.slow
def test_the_demo_workspace_icp_yaml_validates(demo_workspace: DemoWorkspaces) -> None:
    ws = demo_workspace(1_500, 7, derived=True).ws
    text = ws.config_path.read_text(encoding="utf-8")
    settings = load_settings(ws.config_path)
    assert settings.icp is not None and settings.icp["fit"]
    jsonschema.validate(parse_yaml(text, schema=SCHEMA).data, SCHEMA)
