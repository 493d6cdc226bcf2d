"""icp.yaml: validated with messages naming the key, every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from icpkit.config import ConfigError, Settings, load_settings, save_settings, settings_table
from icpkit.ingest.fields import FIELDS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented_with_its_default() -> None:
    text = (DOCS / "settings.md").read_text()
    for name, default, _help in settings_table():
        assert f"`{name}` | `{default}`" in text, name


def test_every_field_and_column_name_is_documented() -> None:
    text = (DOCS / "ingest.md").read_text()
    for specs in FIELDS.values():
        for spec in specs:
            assert f"`{spec.name}`" in text
            for names in spec.synonyms:
                for name in names:
                    assert f"`{name}`" in text, name


ICP_SECTION = """icp:
  derived_at: 2024-05-01T10:00:00Z
  data_fingerprint: abc123
  fit:
  - id: country-no
    attribute: country
    values: [NO, SE]
    source: human
    reason: Nordic launch
"""


def test_settings_round_trip_with_the_icp_section(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    path.write_text("name: Acme\ningest:\n  revenue_unit: millions\n" + ICP_SECTION)
    settings = load_settings(path)
    assert settings.ingest.revenue_unit == "millions"
    save_settings(settings, path)
    again = load_settings(path)
    assert again.name == "Acme"
    assert again.icp is not None and again.icp["fit"][0]["values"] == ["NO", "SE"]


def test_a_file_without_an_icp_is_written_without_an_icp_key(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    save_settings(Settings(name="Acme"), path)
    assert "icp:" not in path.read_text()
    assert load_settings(path).icp is None


def test_yaml_booleans_used_as_stage_names_stay_stage_names(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    path.write_text("ingest:\n  stage_outcomes:\n    No: lost\n    Signed: won\n")
    assert load_settings(path).ingest.stage_outcomes == {"No": "lost", "Signed": "won"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ingest:\n  date_order: sideways\n", "ingest.date_order"),
        ("ingest:\n  max_amount: -1\n", "ingest.max_amount"),
        ("ingest:\n  mapping: [{columns: {a: b}, colour: red}]\n", "'colour' in ingest.mapping[0]"),
        ("ingest: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_invalid_settings_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "icp.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_defaults_validate() -> None:
    assert Settings().ingest.date_order == "auto"


def test_store_settings_reach_duckdb(tmp_path: Path) -> None:
    from icpkit.store import first_row
    from icpkit.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.settings.store.memory_limit = "512MB"
    ws.settings.store.threads = 1
    with ws.connect() as con:
        assert first_row(con, "SELECT current_setting('threads')") == (1,)
        limit = first_row(con, "SELECT current_setting('memory_limit')")
    assert limit is not None and str(limit[0]).startswith(("488", "512"))
