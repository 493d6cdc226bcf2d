"""Identifiers are not attributes: columns with a value of their own per account (phones,
streets, ids) are kept in the store but never analyzed, derived into rules or raised as
leaks, however well they track the outcome."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import run_query
from icpkit.analysis.frame import Cut, build_frame, unanalyzed_note
from icpkit.attributes.extra import ColumnProfile, identifier_reason, name_words
from icpkit.learn.leaks import one_account_share, suspected_leaks
from icpkit.workspace import DeriveResult
from small_crm import SmallCrm, write_crm


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> SmallCrm:
    # 24 accounts: few enough distinct phones (24) to pass the 30-category limit, so the
    # phone would be analyzed if it were judged by its count of values alone.
    return write_crm(tmp_path_factory.mktemp("identifiers"), 24, deals_per_account=2)


@pytest.fixture(scope="module")
def derived(crm: SmallCrm) -> DeriveResult:
    return crm.ws.derive()


def test_the_phone_tracks_the_outcome_by_construction(crm: SmallCrm) -> None:
    rows = run_query(
        crm.ws,
        """SELECT json_extract_string(a.extra, 'Phone') LIKE '555%' AS starts_555,
                  bool_and(d.outcome = 'won'), bool_and(d.outcome = 'lost')
           FROM deals d JOIN accounts a USING (account_key) GROUP BY ALL ORDER BY 1""",
    )
    assert rows == [(False, False, True), (True, True, False)]


def test_identifier_columns_are_kept_in_the_store(crm: SmallCrm) -> None:
    [(phones, streets)] = run_query(
        crm.ws,
        """SELECT count(DISTINCT json_extract_string(extra, 'Phone')),
                  count(DISTINCT json_extract_string(extra, 'BillingStreet')) FROM accounts""",
    )
    assert (phones, streets) == (24, 24)


def test_identifier_columns_are_not_attributes_and_are_named_as_kept(crm: SmallCrm) -> None:
    with crm.ws.connect() as con:
        frame = build_frame(con, crm.ws.settings.analysis)
    names = {a.name for a in frame.attributes}
    assert "extra:Phone" not in names and "extra:BillingStreet" not in names
    assert "extra:Region" in names  # an ordinary category still is one
    assert set(frame.unanalyzed) == {"Phone", "BillingStreet"}
    assert frame.unanalyzed_note() == "kept, not analyzed: BillingStreet, Phone (identifiers)"


def test_a_phone_that_tracks_the_outcome_is_not_raised_as_a_leak(
    crm: SmallCrm, derived: DeriveResult
) -> None:
    with crm.ws.connect() as con:
        frame = build_frame(con, crm.ws.settings.analysis)
    assert suspected_leaks(frame, crm.ws.settings.analysis.leak_auc) == []
    assert not [w for w in derived.warnings if "Phone" in w or "BillingStreet" in w]


def test_derive_makes_no_rule_on_an_identifier_and_says_it_kept_them(
    derived: DeriveResult,
) -> None:
    icp = derived.icp
    attributes = {r.attribute for r in [*icp.fit, *icp.exclusions, *icp.boundary]}
    assert not {a for a in attributes if "Phone" in a or "Street" in a}
    assert "kept, not analyzed: BillingStreet, Phone (identifiers)" in icp.notes


def test_lift_names_the_columns_kept_but_not_analyzed(crm: SmallCrm) -> None:
    result = crm.ws.lift()
    assert "kept, not analyzed: BillingStreet, Phone (identifiers)" in result.warnings
    assert not [r for r in result.rows if r.attribute in ("extra:Phone", "extra:BillingStreet")]


def profile(name: str, accounts: int, distinct: int, unique: int, length: float = 8.0):
    return ColumnProfile(name, accounts, distinct, unique, length)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("BillingPostalCode", ["billing", "postal", "code"]),
        ("Tax ID", ["tax", "id"]),
        ("AccountId", ["account", "id"]),
        ("PhotoURL", ["photo", "url"]),
        ("linkedin_company_page", ["linkedin", "company", "page"]),
    ],
)
def test_column_names_split_into_words(column: str, expected: list[str]) -> None:
    assert name_words(column) == expected


def test_most_accounts_with_a_value_of_their_own_is_an_identifier_whatever_its_name() -> None:
    assert identifier_reason(profile("Customer Code", 100, 90, 80)) is not None
    assert identifier_reason(profile("Segment", 100, 60, 51)) is not None
    assert identifier_reason(profile("Segment", 100, 60, 50)) is None


def test_a_name_that_says_identifier_needs_fewer_one_account_values() -> None:
    # Zip codes where a few cities repeat: 30% of accounts hold a code of their own.
    assert identifier_reason(profile("Billing Zip", 100, 40, 30)) is not None
    assert identifier_reason(profile("Segment", 100, 40, 30)) is None
    # A yes/no column named after a network describes, it does not identify.
    assert identifier_reason(profile("Has LinkedIn", 100, 2, 0)) is None


def test_long_free_text_is_not_an_attribute() -> None:
    assert identifier_reason(profile("Summary", 100, 5, 0, length=140.0)) == "free text"
    assert identifier_reason(profile("Summary", 100, 5, 0, length=12.0)) is None


def test_the_note_groups_columns_by_why_they_are_kept() -> None:
    note = unanalyzed_note(
        {"Phone": "98% of accounts have a value of their own", "About": "free text"}
    )
    assert note == "kept, not analyzed: Phone (identifiers); About (free text)"
    assert unanalyzed_note({}) is None


def test_values_held_by_one_account_each_are_not_a_leak_signal() -> None:
    def cut(value: str, accounts: int, deals: int) -> Cut:
        return Cut(value, np.arange(accounts), np.zeros(accounts), np.full(accounts, deals))

    one_each = [cut("a", 1, 3), cut("b", 1, 3), cut("c", 4, 3), cut("(missing)", 9, 3)]
    assert one_account_share(one_each) == pytest.approx(6 / 18)
    assert one_account_share([cut("(missing)", 5, 1)]) == 0.0
