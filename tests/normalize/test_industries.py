from pathlib import Path

import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.industries import industry_key, match_industry, taxonomy

DOC = Path(__file__).resolve().parents[2] / "docs" / "taxonomy.md"

NAICS_SECTORS = {
    "11", "21", "22", "23", "31-33", "42", "44-45", "48-49", "51", "52", "53", "54", "55", "56",
    "61", "62", "71", "72", "81", "92",
}  # fmt: skip


@pytest.mark.parametrize(
    ("label", "naics", "sector"),
    [
        ("Software", "5132", "51"),
        ("IT Services", "5415", "54"),
        ("Internet", "519", "51"),
        ("Telecommunications", "517", "51"),
        ("Marketing and Advertising", "5418", "54"),
        ("Financial Services", "523", "52"),
        ("Banking", "522", "52"),
        ("Insurance", "524", "52"),
        ("Health Care", "62", "62"),
        ("Education", "61", "61"),
        ("Retail Trade", "44-45", "44-45"),
        ("Manufacturing", "31-33", "31-33"),
        ("Public Administration", "92", "92"),
        ("Construction", "23", "23"),
        ("Utilities", "22", "22"),
        ("Real Estate and Rental and Leasing", "53", "53"),
        ("Professional, Scientific, and Technical Services", "54", "54"),
        ("Accommodation and Food Services", "72", "72"),
    ],
)
def test_required_labels_exist_with_their_codes(label: str, naics: str, sector: str) -> None:
    entries = {entry.label: entry for entry in taxonomy()}
    assert (entries[label].naics, entries[label].sector) == (naics, sector)


def test_every_naics_sector_has_a_sector_level_entry() -> None:
    sector_level = {e.sector for e in taxonomy() if e.naics == e.sector}
    assert sector_level == NAICS_SECTORS


def test_sector_labels_are_official_naics_titles() -> None:
    entries = {entry.label: entry for entry in taxonomy()}
    assert entries["Education"].sector_label == "Educational Services"
    assert entries["Software"].sector_label == "Information"
    assert entries["IT Services"].sector_label == "Professional, Scientific, and Technical Services"


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("COMPUTER_SOFTWARE", "Software"),
        ("Computer Software", "Software"),
        ("SaaS", "Software"),
        ("INFORMATION_TECHNOLOGY_AND_SERVICES", "IT Services"),
        ("Information Technology and Services", "IT Services"),
        ("IT Services and IT Consulting", "IT Services"),
        ("FINANCIAL_SERVICES", "Financial Services"),
        ("HOSPITAL_HEALTH_CARE", "Health Care"),
        ("Hospital & Health Care", "Health Care"),
        ("Healthcare", "Health Care"),
        ("GOVERNMENT_ADMINISTRATION", "Public Administration"),
        ("Government Administration", "Public Administration"),
        ("Public Sector", "Public Administration"),
        ("Government", "Public Administration"),
        ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
        ("Marketing & Advertising", "Marketing and Advertising"),
        ("RETAIL", "Retail Trade"),
        ("Retail", "Retail Trade"),
        ("HIGHER_EDUCATION", "Education"),
        ("Higher Education", "Education"),
        ("Education Management", "Education"),
        ("E_LEARNING", "Education"),
        ("E-Learning", "Education"),
        ("MACHINERY", "Manufacturing"),
        ("Industrial Automation", "Manufacturing"),
        ("BANKING", "Banking"),
        ("INSURANCE", "Insurance"),
        ("TELECOMMUNICATIONS", "Telecommunications"),
        ("INTERNET", "Internet"),
        ("  software  ", "Software"),
    ],
)
def test_hubspot_linkedin_and_common_values_match_exactly(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label
    assert match.exact
    assert match.score == 100.0


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("Computer Sofware", "Software"),
        ("Helthcare", "Health Care"),
        ("Telecomunications", "Telecommunications"),
        ("Bankng", "Banking"),
        ("Finacial Services", "Financial Services"),
    ],
)
def test_typos_match_fuzzily_above_the_threshold(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label
    assert not match.exact
    assert 88 <= match.score < 100


@pytest.mark.parametrize("raw", ["Basket weaving", "Other", "Art", "Food", "xyz"])
def test_unrelated_values_are_unreadable_and_named(raw: str) -> None:
    with pytest.raises(Unreadable, match=f"no industry in the taxonomy resembles '{raw}'"):
        match_industry(raw)


@pytest.mark.parametrize("raw", ["", "N/A", "null"])
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
