import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.names import company_name_key


@pytest.mark.parametrize(
    "raw", ["Acme, Inc.", "ACME Inc", "Acme", "acme inc.", "Acme Incorporated", "Acme LLC",
            "Acme L.L.C.", "Acme Ltd", "Acme Limited", "Acme GmbH", "Acme AG", "Acme S.A.",
            "Acme SAS", "Acme B.V.", "Acme NV", "Acme plc", "Acme Corp.", "Acme Corporation",
            "Acme Co.", "Acme Company", "Acme Pty Ltd", "Acme Oy", "Acme AB", "Acme S.r.l.",
            "Acme S.p.A.", "Acme KK", "The Acme Company", "  ACME  ,  INC  "],
)  # fmt: skip
def test_legal_forms_case_and_punctuation_do_not_change_the_key(raw: str) -> None:
    assert company_name_key(raw) == "acme"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Société Générale S.A.", "societe generale"),
        ("Johnson & Johnson", "johnson and johnson"),
        ("Smith & Co", "smith"),
        ("McDonald's Corp.", "mcdonalds"),
        ("The Home Depot", "home depot"),
        ("AT&T Inc.", "at and t"),
        ("Acme Software Inc", "acme software"),
        ("Incorporated Acme", "incorporated acme"),
        ("The", "the"),
    ],
)
def test_company_name_keys(raw: str, key: str) -> None:
    assert company_name_key(raw) == key


def test_distinct_companies_keep_distinct_keys() -> None:
    assert company_name_key("Acme Software") != company_name_key("Acme Hardware")


@pytest.mark.parametrize("raw", ["", "N/A", "null"])
def test_blank_cells_give_none(raw: str) -> None:
    assert company_name_key(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("Inc.", "no company name left in 'Inc.'"), ("LLC", "after removing legal forms"),
     ("!!!", "no letters or digits")],
)  # fmt: skip
def test_names_with_nothing_left_are_unreadable(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        company_name_key(raw)
