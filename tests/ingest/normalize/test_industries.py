from pathlib import Path

import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.industries import (
    code_system,
    industry_key,
    match_industry,
    read_industry,
    taxonomy,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "taxonomy.md"
VOCABULARIES = Path(__file__).resolve().parents[2] / "fixtures" / "vocabularies"

NAICS_SECTORS = {
    "11", "21", "22", "23", "31-33", "42", "44-45", "48-49", "51", "52", "53", "54", "55", "56",
    "61", "62", "71", "72", "81", "92",
}  # fmt: skip


@pytest.mark.parametrize(
    ("label", "naics", "sector"),
    cases("industries", "required_labels_exist_with_their_codes"),
)
def test_required_labels_exist_with_their_codes(label: str, naics: str, sector: str) -> None:
    entries = {entry.label: entry for entry in taxonomy()}
    assert (entries[label].naics, entries[label].sector) == (naics, sector)


def test_every_naics_sector_has_a_sector_level_entry() -> None:
    sector_level = {e.sector for e in taxonomy() if e.sector and e.naics == e.sector}
    assert sector_level == NAICS_SECTORS


def test_sector_labels_are_official_naics_titles() -> None:
    entries = {entry.label: entry for entry in taxonomy()}
    assert entries["Education"].sector_label == "Educational Services"
    assert entries["Software"].sector_label == "Information"
    assert entries["IT Services"].sector_label == "Professional, Scientific, and Technical Services"


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "hubspot_linkedin_and_common_values_match_exactly"),
)
def test_hubspot_linkedin_and_common_values_match_exactly(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label
    assert match.exact
    assert match.score == 100.0


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "typos_match_fuzzily_above_the_threshold"),
)
def test_typos_match_fuzzily_above_the_threshold(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label
    assert not match.exact
    assert 88 <= match.score < 100


@pytest.mark.parametrize("raw", cases("industries", "unrelated_values_are_unreadable_and_named"))
def test_unrelated_values_are_unreadable_and_named(raw: str) -> None:
    with pytest.raises(Unreadable, match=f"no industry in the taxonomy resembles '{raw}'"):
        match_industry(raw)


@pytest.mark.parametrize("raw", cases("industries", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert match_industry(raw) is None


def test_match_reports_codes_and_sector_title() -> None:
    match = match_industry("Computer Software")
    assert match is not None
    assert (match.naics, match.sector, match.sector_label) == ("5132", "51", "Information")


def test_industry_key_ignores_case_underscores_ampersands_and_punctuation() -> None:
    assert industry_key("HOSPITAL_HEALTH_CARE") == industry_key("Hospital & Health Care")
    assert industry_key("Transportation/Trucking/Railroad") == "transportation trucking railroad"


def test_no_alias_belongs_to_two_entries() -> None:
    owners: dict[str, str] = {}
    for entry in taxonomy():
        for name in (entry.label, *entry.aliases):
            key = industry_key(name)
            assert owners.setdefault(key, entry.label) == entry.label, name


def test_taxonomy_doc_lists_every_label_and_alias() -> None:
    doc = DOC.read_text(encoding="utf-8")
    missing = [
        name
        for entry in taxonomy()
        for name in (f"| {entry.label} |", *(f"`{alias}`" for alias in entry.aliases))
        if name not in doc
    ]
    assert not missing, f"docs/taxonomy.md is out of date; missing {missing}"


# --- Coverage of public vocabularies -------------------------------------------------------

VOCABULARY_FILES = sorted(p.name for p in VOCABULARIES.glob("*.txt") if "countr" not in p.name)


def test_the_vocabularies_measured_are_the_published_lists() -> None:
    assert {
        "linkedin_industries.txt",
        "linkedin_industries_v2.txt",
        "crunchbase_2013_categories.txt",
        "inc5000_industries.txt",
        "naics_codes.txt",
        "sic_codes.txt",
        "plain_words.txt",
        "dynamics365_industry_codes.txt",
    } <= set(VOCABULARY_FILES)
    classic = (VOCABULARIES / "linkedin_industries.txt").read_text("utf-8").splitlines()
    assert len(classic) >= 147


@pytest.mark.parametrize("name", VOCABULARY_FILES)
def test_at_least_98_percent_of_each_public_vocabulary_maps_to_the_taxonomy(name: str) -> None:
    labels = [line.strip() for line in (VOCABULARIES / name).read_text("utf-8").splitlines()]
    labels = [label for label in labels if label]
    codes = code_system(labels)
    unmapped = []
    for label in labels:
        try:
            match = match_industry(label, codes)
        except Unreadable:
            unmapped.append(label)
            continue
        assert match is not None, label
    share = 1 - len(unmapped) / len(labels)
    assert share >= 0.98, f"{name}: {share:.1%} mapped; unmapped: {unmapped}"


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "crunchbase_inc_and_plain_labels_map_to_their_industry"),
)  # fmt: skip
def test_crunchbase_inc_and_plain_labels_map_to_their_industry(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "labels_no_alias_names_map_by_keyword"),
)
def test_labels_no_alias_names_map_by_keyword(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert (match.label, match.how) == (label, "keyword")


# --- NAICS and SIC codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "naics_codes_map_to_their_finer_entry_or_sector"),
)
def test_naics_codes_map_to_their_finer_entry_or_sector(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert (match.label, match.how) == (label, "code")


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "sic_codes_map_by_major_group_in_a_sic_column"),
)
def test_sic_codes_map_by_major_group_in_a_sic_column(raw: str, label: str) -> None:
    match = match_industry(raw, "sic")
    assert match is not None
    assert match.label == label


def test_a_code_written_with_its_system_needs_no_column() -> None:
    assert match_industry("SIC 5411").label == "Retail Trade"  # type: ignore[union-attr]
    assert match_industry("NAICS 5411").label == "Legal Services"  # type: ignore[union-attr]
    assert match_industry("SIC Code: 7372").label == "Software"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "system"),
    cases("industries", "a_columns_code_system_is_decided_by_its_values"),
)
def test_a_columns_code_system_is_decided_by_its_values(values: list[str], system: str) -> None:
    assert code_system(values) == system


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "dynamics_industry_codes_map_in_a_dynamics_column"),
)  # fmt: skip
def test_dynamics_industry_codes_map_in_a_dynamics_column(raw: str, label: str) -> None:
    match = match_industry(raw, "dynamics")
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize(
    ("raw", "label"),
    cases("industries", "zoho_picklist_values_map_to_their_industry"),
)
def test_zoho_picklist_values_map_to_their_industry(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize("raw", cases("industries", "numbers_that_are_no_code_are_unreadable"))
def test_numbers_that_are_no_code_are_unreadable(raw: str) -> None:
    with pytest.raises(Unreadable):
        match_industry(raw)


# --- What is stored --------------------------------------------------------------------------


def test_other_is_recognized_as_no_industry_given_not_as_a_sector() -> None:
    for raw in ("Other", "other", "Misc", "Unclassified"):
        match = match_industry(raw)
        assert match is not None
        assert (match.label, match.naics, match.sector, match.sector_label) == (
            "Other",
            None,
            None,
            "Unclassified",
        )


def test_stored_industry_of_a_known_value_is_label_code_and_sector() -> None:
    assert read_industry("COMPUTER_SOFTWARE") == ("Software", "5132", "Information")


def test_a_value_outside_the_taxonomy_is_kept_as_written_without_a_sector() -> None:
    assert read_industry("  Basket   weaving ") == ("Basket weaving", None, None)


def test_a_blank_industry_is_stored_as_nothing() -> None:
    assert read_industry("N/A") is None
