"""A strict icp.yaml: every tampered file is refused with a message naming file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.config import ConfigError, load_settings, parse_settings, save_settings
from icpkit.yamlfile import YamlProblem, parse_yaml

TAMPERED = Path(__file__).parent.parent / "fixtures" / "icp_yaml"
CASES = sorted(p.stem for p in TAMPERED.glob("*.yaml"))


def expected(name: str) -> str:
    return (TAMPERED / f"{name}.expected").read_text(encoding="utf-8").strip()


def test_the_corpus_holds_every_kind_of_tampering() -> None:
    assert len(CASES) >= 28
    assert all((TAMPERED / f"{name}.expected").is_file() for name in CASES)


@pytest.mark.parametrize("name", CASES)
def test_tampered_icp_yaml_is_refused_with_a_clear_message(name: str) -> None:
    path = TAMPERED / f"{name}.yaml"
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert expected(name) in message
    assert message.startswith(str(path))
    assert "Traceback" not in message and "pydantic" not in message.lower()


@pytest.mark.parametrize(
    "name",
    [
        "unknown_top_level_key",
        "duplicate_nested_key",
        "not_utf8",
        "empty_file",
        "fit_low_above_fit_high",
    ],
)
def test_the_cli_reports_a_tampered_icp_yaml_in_one_message_and_exit_1(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "icp.yaml").write_bytes((TAMPERED / f"{name}.yaml").read_bytes())
    result = CliRunner().invoke(app, ["summary", "-w", str(tmp_path)])
    assert result.exit_code == 1
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert expected(name) in result.output.replace("\n", " ") or expected(name) in result.output
    assert "Traceback" not in result.output


def test_a_misspelt_key_suggests_the_nearest_known_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'min_closed_deals'"):
        parse_settings("analysis:\n  min_closed_deal: 10\n")


def test_a_duplicate_key_names_both_lines() -> None:
    with pytest.raises(YamlProblem) as err:
        parse_yaml("a: 1\nb: 2\na: 3\n")
    assert "line 3" in str(err.value) and "first given on line 1" in str(err.value)


def test_a_country_no_in_the_icp_stays_norway(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    path.write_text(
        "icp:\n  derived_at: 2024-05-01T10:00:00Z\n  data_fingerprint: abc\n  fit:\n"
        "  - id: nordics\n    attribute: country\n    values: [NO, SE, on, 1.50]\n"
        "    source: derived\n"
    )
    settings = load_settings(path)
    assert settings.icp is not None
    assert settings.icp["fit"][0]["values"] == ["NO", "SE", "on", "1.50"]


def test_yaml_booleans_and_dates_where_text_is_expected_keep_their_text() -> None:
    settings = parse_settings(
        "name: 2024-01-01\ningest:\n  expansion_deal_types: [yes, off, 12]\n"
        "scoring:\n  persona:\n    titles: [No, CEO]\n"
    )
    assert settings.name == "2024-01-01"
    assert settings.ingest.expansion_deal_types == ["yes", "off", "12"]
    assert settings.scoring.persona.titles == ["No", "CEO"]


def test_booleans_where_a_boolean_is_expected_stay_booleans() -> None:
    settings = parse_settings("scoring:\n  caps_from_data: no\ntiers:\n  churned_is_tier3: off\n")
    assert settings.scoring.caps_from_data is False
    assert settings.tiers.churned_is_tier3 is False


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: Acme\n")
    assert load_settings(path).name == "Acme"


def test_sensible_values_at_the_edges_are_accepted() -> None:
    settings = parse_settings(
        "scoring:\n  routing: {fit_low: 20, fit_high: 60}\n  caps: {firmographic: 100}\n"
        "tiers:\n  weights: {acv: 0, fast_cycle: 2}\n  tier1_min_points: 2\n"
        "analysis:\n  employee_buckets: [5]\nstore:\n  memory_limit: 1.5GiB\n"
    )
    assert settings.scoring.routing.fit_low == 20
    assert settings.analysis.employee_buckets == [5]


def test_defaults_written_by_init_read_back(tmp_path: Path) -> None:
    from icpkit.config import Settings

    path = tmp_path / "icp.yaml"
    save_settings(Settings(name="Acme"), path)
    assert load_settings(path) == Settings(name="Acme")
    assert yaml.safe_load(path.read_text())["name"] == "Acme"


def test_a_corrected_file_loads_after_a_refusal(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    shutil.copy(TAMPERED / "unknown_top_level_key.yaml", path)
    with pytest.raises(ConfigError):
        load_settings(path)
    path.write_text(path.read_text().replace("scorng", "scoring"))
    assert load_settings(path).scoring.caps_from_data is False


def _read_both_ways(
    text: str, monkeypatch: pytest.MonkeyPatch, schema: dict | None = None
) -> list[tuple]:
    """What parse_yaml answers with libyaml first (as shipped) and with PyYAML alone."""
    import icpkit.yamlfile

    answers = []
    for fast in (yaml.CSafeLoader, None):
        monkeypatch.setattr(icpkit.yamlfile, "_FAST_LOADER", fast)
        try:
            doc = parse_yaml(text, schema)
            answers.append(("read", doc.data, doc.marks))
        except YamlProblem as exc:
            answers.append(("refused", str(exc)))
    return answers


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_libyaml_reads_every_settings_file_as_pyyaml_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same data, the same line and column of every key, the same message when refused:
    on the defaults, every tampered file and every YAML file the project ships."""
    from icpkit.config import Settings, settings_schema

    save_settings(Settings(name="Acme"), tmp_path / "icp.yaml")
    root = Path(__file__).parents[2]
    files = [tmp_path / "icp.yaml", *TAMPERED.glob("*.yaml"), *(root / "src").rglob("*.yaml")]
    files += (root / "tests" / "fixtures").rglob("*.y*ml")
    assert len(files) > 40
    for path in files:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        for schema in (None, settings_schema()):
            fast, reference = _read_both_ways(text, monkeypatch, schema)
            assert fast == reference, path


@pytest.mark.parametrize(
    "text",
    [
        "name: Acme\tInc\n",  # a tab inside a value
        "name\tx: Acme\n",  # a tab inside a key
        "tiers: {weights: {acv: 1 ? 2}}\n",  # '?' inside a flow mapping
        "name: |#note\n  Acme\n",  # a comment straight after '|'
    ],
)
def test_what_only_libyaml_would_read_is_refused_as_before(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, reference = _read_both_ways(text, monkeypatch)
    assert reference[0] == "refused"
    assert fast == reference
