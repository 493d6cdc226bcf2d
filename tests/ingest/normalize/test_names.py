import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.names import company_name_key


@pytest.mark.parametrize(
    "raw", cases("names", "legal_forms_case_and_punctuation_do_not_change_the_key"),
)  # fmt: skip
def test_legal_forms_case_and_punctuation_do_not_change_the_key(raw: str) -> None:
    assert company_name_key(raw) == "acme"


@pytest.mark.parametrize(
    ("raw", "key"),
    cases("names", "company_name_keys"),
)
def test_company_name_keys(raw: str, key: str) -> None:
    assert company_name_key(raw) == key


def test_distinct_companies_keep_distinct_keys() -> None:
    assert company_name_key("Acme Software") != company_name_key("Acme Hardware")


@pytest.mark.parametrize("raw", cases("names", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert company_name_key(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    cases("names", "names_with_nothing_left_are_unreadable"),
)  # fmt: skip
def test_names_with_nothing_left_are_unreadable(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        company_name_key(raw)
