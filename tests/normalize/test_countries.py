import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.countries import country_code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("USA", "US"), ("US", "US"), ("U.S.", "US"), ("U.S.A.", "US"),
        ("United States of America", "US"), ("America", "US"), ("united states", "US"),
        ("UK", "GB"), ("U.K.", "GB"), ("England", "GB"), ("Scotland", "GB"), ("Wales", "GB"),
        ("Great Britain", "GB"), ("United Kingdom", "GB"),
        ("Deutschland", "DE"), ("Germany", "DE"), ("Holland", "NL"), ("The Netherlands", "NL"),
        ("South Korea", "KR"), ("Korea, Republic of", "KR"), ("Russia", "RU"),
        ("Russian Federation", "RU"), ("Czech Republic", "CZ"), ("Czechia", "CZ"),
        ("UAE", "AE"), ("Türkiye", "TR"), ("Turkey", "TR"), ("Côte d'Ivoire", "CI"),
        ("Viet Nam", "VN"), ("Taiwan", "TW"),
    ],
)  # fmt: skip
def test_country_names_and_nicknames_map_to_alpha2(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [("DEU", "DE"), ("fra", "FR"), ("gbr", "GB"), ("de", "DE"), ("in", "IN"), (" JP ", "JP"),
     ("NAM", "NA"), ("Namibia", "NA")],
)  # fmt: skip
def test_iso_codes_in_any_case_are_accepted(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize("raw", ["", "N/A", "NA", "null"])
def test_blank_cells_give_none(raw: str) -> None:
    assert country_code(raw) is None


@pytest.mark.parametrize("raw", ["Mars", "Narnia", "Germnay", "XX"])
def test_unknown_countries_are_unreadable_without_guessing(raw: str) -> None:
    with pytest.raises(Unreadable, match=f"unknown country '{raw}'"):
        country_code(raw)
