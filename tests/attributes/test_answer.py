"""AI research answers as attributes: ``answer:<key>`` names an answer, the analysis finds
the answers the accounts hold, and they are never also taken for unmapped columns."""

from __future__ import annotations

import json

import duckdb
import pytest

from icpkit.attributes import (
    definition_of,
    describe_cut,
    dimension_of_attribute,
    rule_attribute,
    rule_text,
    unknown_bin,
    value_sql,
)
from icpkit.attributes.extra import extra_columns
from icpkit.config import AnalysisSettings
from icpkit.store.schema import TABLES


def _store(extras: list[dict[str, str]]) -> duckdb.DuckDBPyConnection:
    """A store holding one account per ``extras`` item, its JSON ``extra``."""
    con = duckdb.connect()
    for ddl in TABLES.values():
        con.execute(ddl)
    for i, extra in enumerate(extras):
        con.execute(
            "INSERT INTO accounts (account_key, origin, extra) VALUES (?, 'test', ?::JSON)",
            [f"a{i}.io", json.dumps(extra)],
        )
    return con


def _answers(con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> list[str]:
    definition = definition_of("answer:x")
    assert definition is not None
    return definition.discover(con, settings)


def test_an_answer_name_resolves_to_the_answer_definition() -> None:
    definition = definition_of("answer:sells_to_enterprise")
    assert definition is not None and definition.key == "answer"
    assert definition_of("answer") is None  # the bare key names no rule
    assert rule_attribute("answer:sells_to_enterprise") == "answer:sells_to_enterprise"
    assert unknown_bin("answer:sells_to_enterprise") == "answer:sells_to_enterprise"


def test_an_answer_scores_with_the_account_facts() -> None:
    assert dimension_of_attribute("answer:sells_to_enterprise") == "firmographic"


def test_an_answer_reads_as_its_question_key_in_words() -> None:
    assert rule_text("answer:sells_to_enterprise", ["yes"]) == "Sells to enterprise yes"
    assert rule_text("answer:crm_named", ["HubSpot", "Salesforce"]) == (
        "Crm named HubSpot or Salesforce"
    )
    assert describe_cut("answer:sells_to_enterprise", ["no"]) == "sells to enterprise no"


def test_answers_with_a_few_values_are_discovered_in_key_order() -> None:
    con = _store(
        [
            {"answer:sells_to_enterprise": "yes", "answer:free_plan": "yes", "Region": "East"},
            {"answer:sells_to_enterprise": "no", "answer:free_plan": "yes", "Region": "West"},
            {"answer:crm_named": "HubSpot"},
            {"answer:crm_named": "Salesforce"},
        ]
    )
    # free_plan holds one value only: no cut to compare.
    assert _answers(con, AnalysisSettings()) == ["answer:crm_named", "answer:sells_to_enterprise"]


def test_an_answer_with_more_values_than_max_categories_is_not_discovered() -> None:
    con = _store([{"answer:crm_named": f"CRM {i}"} for i in range(4)])
    assert _answers(con, AnalysisSettings(max_categories=3)) == []
    assert _answers(con, AnalysisSettings(max_categories=4)) == ["answer:crm_named"]


def test_a_store_without_answers_discovers_none() -> None:
    con = _store([{"Region": "East"}, {"Region": "West"}])
    assert _answers(con, AnalysisSettings()) == []


def test_answers_are_not_also_unmapped_columns() -> None:
    con = _store(
        [
            {"answer:sells_to_enterprise": "yes", "Region": "East"},
            {"answer:sells_to_enterprise": "no", "Region": "West"},
            {"answer:sells_to_enterprise": "yes", "Region": "East"},
        ]
    )
    analyzed, skipped = extra_columns(con, AnalysisSettings())
    assert analyzed == ["Region"]
    assert not any(name.startswith("answer:") for name in skipped)


@pytest.mark.parametrize(
    ("extra_columns_", "expected"), [(False, "a.extra"), (True, 'a."answer_crm_named"')]
)
def test_an_answer_is_read_from_the_store_json_or_a_column_of_its_own(
    extra_columns_: bool, expected: str
) -> None:
    sql = value_sql("answer:crm_named", AnalysisSettings(), extra_columns=extra_columns_)
    assert sql is not None and expected in sql
