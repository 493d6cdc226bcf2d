"""Every registered attribute gives the same value in SQL (as scoring reads the store, as
the compiled scorecard reads a warehouse table, as the analysis frame reads a deal) and in
Python (the reference scorer), and both are the value its fixture file expects."""

from __future__ import annotations

import pytest
from attribute_cases import (
    AttributeCase,
    frame_value,
    keys,
    load,
    number_value,
    scoring_value,
    warehouse_value,
)

from icpkit.attributes import MISSING, definition_of, definitions

CASES = [pytest.param(key, case, id=case.where) for key in keys() for case in load(key)]


@pytest.mark.parametrize("key", [d.key for d in definitions()])
def test_every_registered_attribute_has_a_fixture_file_of_cases(key: str) -> None:
    assert key in keys(), f"tests/fixtures/attributes/{key}.yaml is missing"
    assert load(key), f"tests/fixtures/attributes/{key}.yaml has no cases"


def test_every_fixture_file_names_a_registered_attribute() -> None:
    registered = {d.key for d in definitions()}
    assert set(keys()) <= registered


@pytest.mark.parametrize(("key", "case"), CASES)
def test_sql_and_python_give_the_expected_value(key: str, case: AttributeCase) -> None:
    definition = definition_of(case.attribute)
    assert definition is not None and definition.key == key, case.where
    if case.expected is not None:
        python = definition.value(case.attribute, case.flat, case.day, case.settings, case.signals)
        assert python == case.expected, (case.where, "python")
        in_sql = {
            "scoring": scoring_value(definition, case),
            "warehouse": warehouse_value(definition, case),
            "frame": frame_value(definition, case),
        }
        given = {where: v for where, v in in_sql.items() if v is not None}
        assert given, (case.where, "no SQL gives this attribute a value")
        assert given == dict.fromkeys(given, case.expected), case.where
        order = definition.order(case.attribute, case.settings)
        if order:  # ordinal and yes/no attributes: the label is one of theirs
            assert case.expected in order, (case.where, order)
    if case.checks_number:
        python_number = definition.number(case.attribute, case.flat)
        assert python_number == case.number, (case.where, "python")
        assert number_value(definition, case) == case.number, (case.where, "sql")
        if case.number is None and case.expected is not None:
            assert case.expected == MISSING, case.where
