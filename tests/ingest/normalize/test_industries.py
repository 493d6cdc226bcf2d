from pathlib import Path

import pytest

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
    sector_level = {e.sector for e in taxonomy() if e.sector and e.naics == e.sector}
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


@pytest.mark.parametrize("raw", ["Basket weaving", "Widgets", "Food", "xyz"])
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
    [
        # Crunchbase 2013 category codes
        ("medical", "Health Care"), ("health", "Health Care"), ("biotech", "Biotechnology"),
        ("web", "Internet"), ("mobile", "Software"), ("games_video", "Information"),
        ("network_hosting", "IT Services"), ("public_relations", "Marketing and Advertising"),
        ("real_estate", "Real Estate and Rental and Leasing"), ("cleantech", "Utilities"),
        ("ecommerce", "Retail Trade"), ("enterprise", "Software"),
        # Inc. 5000 industries
        ("IT Management", "IT Services"), ("Business Products & Services",
         "Professional, Scientific, and Technical Services"),
        ("Human Resources", "Staffing and Recruiting"),
        ("Logistics & Transportation", "Transportation and Warehousing"),
        ("Government Services", "Public Administration"),
        ("Travel & Hospitality", "Accommodation and Food Services"),
        # plain words
        ("services", "Professional, Scientific, and Technical Services"),
        ("employment", "Staffing and Recruiting"), ("pharma", "Pharmaceuticals"),
        # LinkedIn labels
        ("Alternative Dispute Resolution", "Legal Services"), ("Libraries", "Information"),
        ("Software Development", "Software"), ("Hospitals and Health Care", "Health Care"),
    ],
)  # fmt: skip
def test_crunchbase_inc_and_plain_labels_map_to_their_industry(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("Retail Groceries", "Retail Trade"),
        ("Plastics Manufacturing", "Manufacturing"),
        ("Embedded Software Products", "Software"),
        ("Renewable Energy Semiconductor Manufacturing", "Semiconductors"),
        ("Truck Transportation", "Transportation and Warehousing"),
        ("Insurance Agencies and Brokerages", "Insurance"),
        ("Dentists", "Health Care"),
        ("Hotels and Motels", "Accommodation and Food Services"),
    ],
)
def test_labels_no_alias_names_map_by_keyword(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert (match.label, match.how) == (label, "keyword")


# --- NAICS and SIC codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("541511", "IT Services"),  # Custom Computer Programming Services
        ("5415", "IT Services"),
        ("511210", "Software"),  # NAICS 2017 Software Publishers
        ("513210", "Software"),  # NAICS 2022 Software Publishers
        ("622110", "Health Care"),  # General Medical and Surgical Hospitals
        ("445110", "Retail Trade"),  # Supermarkets
        ("31", "Manufacturing"),
        ("33", "Manufacturing"),
        ("334413", "Semiconductors"),
        ("524113", "Insurance"),
        ("921110", "Public Administration"),
        ("NAICS 541511", "IT Services"),
        ("541511 - Custom Computer Programming Services", "IT Services"),
        ("541511.0", "IT Services"),
    ],
)
def test_naics_codes_map_to_their_finer_entry_or_sector(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert (match.label, match.how) == (label, "code")


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("7372", "Software"),  # Prepackaged Software
        ("7371", "IT Services"),  # Computer Programming Services
        ("2834", "Pharmaceuticals"),  # Pharmaceutical Preparations
        ("3674", "Semiconductors"),
        ("6022", "Banking"),  # State Commercial Banks
        ("5411", "Retail Trade"),  # Grocery Stores, in a SIC column
        ("8062", "Health Care"),  # Hospitals
        ("0100", "Agriculture, Forestry, Fishing and Hunting"),
        ("3711", "Automotive"),
        ("9995", "Other"),  # Non-Operating Establishments
    ],
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
    [
        (["7372", "5411", "2834"], "sic"),  # 73xx and 28xx are no NAICS sector
        (["0100", "5411"], "sic"),
        (["541511", "5411", "7372"], "naics"),  # a 6-digit code makes the column NAICS
        (["5411", "5415"], "naics"),  # both readings possible: NAICS
        (["Software", "Retail"], "naics"),
        ([], "naics"),
        (["1", "7", "12", "33"], "dynamics"),  # Dynamics 365 industrycode option values
        (["54", "11", "23"], "naics"),  # two-digit NAICS sectors, no one-digit value
        (["1", "7", "541511"], "naics"),
    ],
)
def test_a_columns_code_system_is_decided_by_its_values(values: list[str], system: str) -> None:
    assert code_system(values) == system


@pytest.mark.parametrize(
    ("raw", "label"),
    [("1", "Accounting"), ("7", "Management Consulting"), ("11", "Health Care"),
     ("13", "Accommodation and Food Services"), ("33", "Wholesale Trade")],
)  # fmt: skip
def test_dynamics_industry_codes_map_in_a_dynamics_column(raw: str, label: str) -> None:
    match = match_industry(raw, "dynamics")
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("ERP (Enterprise Resource Planning)", "Software"),
        ("ASP (Application Service Provider)", "Software"),
        ("Management ISV", "Software"),
        ("MSP (Management Service Provider)", "IT Services"),
        ("Systems Integrator", "IT Services"),
        ("Storage Equipment", "Computer Hardware"),
        ("Optical Networking", "Telecommunications"),
        ("Government/Military", "Public Administration"),
    ],
)
def test_zoho_picklist_values_map_to_their_industry(raw: str, label: str) -> None:
    match = match_industry(raw)
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize("raw", ["99", "1", "1234567", "00"])
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
