"""Seniority and department read from job titles."""

from __future__ import annotations

import pytest

from icpkit.ingest.normalize.titles import department_of, seniority_of


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("VP of Sales", "VP", "Sales"),
        ("SVP, Revenue", "VP", "Sales"),
        ("Chief Revenue Officer", "C-level", "Sales"),
        ("CEO & Co-Founder", "Owner", "Executive"),
        ("Head of Demand Generation", "Head", "Marketing"),
        ("Director, Customer Success", "Director", "Customer Success"),
        ("Sales Development Representative (SDR)", "Individual contributor", "Sales"),
        ("Account Executive", "Individual contributor", "Sales"),
        ("RevOps Manager", "Manager", "Operations"),
        ("Sr. Software Engineer", "Individual contributor", "Engineering"),
        ("Engineering Team Lead", "Manager", "Engineering"),
        ("Product Designer", "Individual contributor", "Product"),
        ("IT Systems Administrator", "Individual contributor", "IT"),
        ("Financial Controller", "Individual contributor", "Finance"),
        ("Talent Acquisition Partner", "Individual contributor", "HR"),
        ("Partner", "Owner", None),
        ("Managing Partner", "Owner", None),
        ("General Counsel", "Individual contributor", "Legal"),
        ("Managing Director", "C-level", "Executive"),
        ("Intern", "Individual contributor", None),
    ],
)
def test_titles_map_to_seniority_and_department(title, seniority, department) -> None:
    assert seniority_of(title) == seniority
    assert department_of(title) == department


@pytest.mark.parametrize("blank", ["", "  ", "N/A", "-"])
def test_blank_titles_are_unknown(blank: str) -> None:
    assert seniority_of(blank) is None
    assert department_of(blank) is None
