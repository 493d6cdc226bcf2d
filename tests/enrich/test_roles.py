"""Job titles to the function a hiring signal counts them under, from a table of titles."""

from __future__ import annotations

from pathlib import Path

import pytest

from icpkit.enrich.roles import FUNCTIONS, function_of

TITLES = Path(__file__).parents[1] / "fixtures" / "enrich" / "roles" / "titles.tsv"


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in TITLES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            title, function = line.split("\t")
            rows.append((title, function))
    return rows


@pytest.mark.parametrize(("title", "function"), _rows())
def test_title_maps_to_its_function(title: str, function: str) -> None:
    assert function_of(title) == function


def test_table_covers_every_function() -> None:
    assert {function for _, function in _rows()} == set(FUNCTIONS)


def test_presales_engineer_is_not_engineering() -> None:
    assert function_of("Senior Solutions Engineer") == "Other"
    assert function_of("Solutions Engineering Manager") == "Other"


def test_acronyms_only_count_in_capitals() -> None:
    # 'ae' inside a word, or 'sdr' in lower case as part of another token, is no role.
    assert function_of("Aerospace Analyst") == "Other"
    assert function_of("SDR Team Lead") == "SDR"
