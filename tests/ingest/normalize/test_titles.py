"""Seniority and department read from job titles."""

from __future__ import annotations

import pytest

from helpers import cases
from icpkit.ingest.normalize.titles import department_of, seniority_of


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    cases("titles", "titles_map_to_seniority_and_department"),
)
def test_titles_map_to_seniority_and_department(title, seniority, department) -> None:
    assert seniority_of(title) == seniority
    assert department_of(title) == department


@pytest.mark.parametrize("blank", cases("titles", "blank_titles_are_unknown"))
def test_blank_titles_are_unknown(blank: str) -> None:
    assert seniority_of(blank) is None
    assert department_of(blank) is None
