import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.countries import country_code, country_reader, prefers_subdivisions


@pytest.mark.parametrize(
    ("raw", "code"),
    cases("countries", "country_names_and_nicknames_map_to_alpha2"),
)  # fmt: skip
def test_country_names_and_nicknames_map_to_alpha2(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    cases("countries", "iso_codes_in_any_case_are_accepted"),
)  # fmt: skip
def test_iso_codes_in_any_case_are_accepted(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize("raw", cases("countries", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert country_code(raw) is None


@pytest.mark.parametrize(
    "raw", cases("countries", "unknown_countries_are_unreadable_without_guessing")
)
def test_unknown_countries_are_unreadable_without_guessing(raw: str) -> None:
    with pytest.raises(Unreadable, match=f"unknown country '{raw}'"):
        country_code(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    cases("countries", "names_in_other_languages_and_scripts_map_to_alpha2"),
)  # fmt: skip
def test_names_in_other_languages_and_scripts_map_to_alpha2(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    cases("countries", "misspelt_names_are_corrected_within_the_typo_threshold"),
)  # fmt: skip
def test_misspelt_names_are_corrected_within_the_typo_threshold(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    cases("countries", "city_country_and_city_state_locations_name_their_country"),
)  # fmt: skip
def test_city_country_and_city_state_locations_name_their_country(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    cases("countries", "us_states_and_canadian_provinces_name_their_country"),
)  # fmt: skip
def test_us_states_and_canadian_provinces_name_their_country(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("raw", "as_country", "as_state"),
    cases("countries", "codes_that_are_a_state_and_a_country_follow_the_column"),
)  # fmt: skip
def test_codes_that_are_a_state_and_a_country_follow_the_column(
    raw: str, as_country: str, as_state: str
) -> None:
    assert country_code(raw, subdivisions=False) == as_country
    assert country_code(raw, subdivisions=True) == as_state


def test_a_column_of_us_states_reads_ambiguous_codes_as_states() -> None:
    column = ["TX", "NY", "CA", "WA", "DE", "IN", "Florida"]
    assert prefers_subdivisions(column)
    read = country_reader(column)
    assert {value: read(value) for value in column} == dict.fromkeys(column, "US")


def test_a_column_of_countries_reads_ambiguous_codes_as_countries() -> None:
    column = ["FR", "GB", "JP", "CA", "DE", "IN", "Germany"]
    assert not prefers_subdivisions(column)
    read = country_reader(column)
    assert [read(v) for v in column] == ["FR", "GB", "JP", "CA", "DE", "IN", "DE"]


def test_a_column_of_city_state_locations_reads_ambiguous_states_as_states() -> None:
    column = ["Austin, TX", "Boston, MA", "Springfield, IL", "Denver, CO"]
    read = country_reader(column)
    assert {read(v) for v in column} == {"US"}


def test_a_column_of_city_country_codes_reads_ambiguous_codes_as_countries() -> None:
    column = ["Paris, FR", "Tokyo, JP", "Haifa, IL", "Bonn, DE", "Lyon, FR"]
    read = country_reader(column)
    assert [read(v) for v in column] == ["FR", "JP", "IL", "DE", "FR"]


def test_a_lone_value_reads_a_bare_code_as_a_country_and_one_after_a_city_as_a_state() -> None:
    assert country_code("IN") == "IN"
    assert country_code("Indianapolis, IN") == "US"
