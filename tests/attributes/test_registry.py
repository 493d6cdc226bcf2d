"""The registry's bookkeeping: names resolve to their definition, a name is defined once,
a definition registered for a while is gone afterwards, and the texts that list attribute
names (errors, the command-line help) list the registry's."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from icpkit.attributes import (
    Category,
    definition_of,
    definitions,
    dimension_of_attribute,
    multi_valued,
    names_help,
    register,
    registered,
)
from icpkit.config import AnalysisSettings
from icpkit.engines.features import ScoringError, condition_sql
from icpkit.icp.model import Criterion

REGION = Category(
    key="region", dimension="firmographic", inputs={"region": "VARCHAR"}, field="region"
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("employees", "employees"),
        ("tech:HubSpot", "tech"),
        ("tech", "tech"),
        ("extra:Time Zone", "extra"),
        ("signal:funding_round:Series A", "signal"),
        ("founded_year", "founded_year"),
    ],
)
def test_a_name_resolves_to_its_definition(name: str, key: str) -> None:
    definition = definition_of(name)
    assert definition is not None and definition.key == key


@pytest.mark.parametrize("name", ["extra", "signal", "tech_stack", "Employees", ""])
def test_a_name_no_definition_owns_resolves_to_none(name: str) -> None:
    assert definition_of(name) is None


@pytest.mark.parametrize(
    ("name", "dimension"),
    [
        ("employees", "firmographic"),
        ("company_age", "firmographic"),
        ("extra:Region", "firmographic"),
        ("stack_density", "technographic"),
        ("tech", "technographic"),
        ("tech:HubSpot", "technographic"),
        ("signal:job_posting:SDR", "behavioral"),
    ],
)
def test_each_attribute_scores_in_its_dimension(name: str, dimension: str) -> None:
    assert dimension_of_attribute(name) == dimension


def test_only_a_stack_of_tools_holds_many_values_at_once() -> None:
    assert multi_valued("tech")
    assert not multi_valued("tech:HubSpot")
    assert not any(multi_valued(d.key) for d in definitions() if d.key != "tech")


def test_a_definition_registered_for_a_while_is_gone_afterwards() -> None:
    before = definitions()
    with registered(REGION):
        assert definition_of("region") is REGION
        assert definitions()[-1] is REGION
        assert "region" in names_help()
    assert definitions() == before
    assert definition_of("region") is None


@pytest.mark.parametrize("key", ["employees", "tech", "tech:Zapier", "extra:Region"])
def test_a_name_is_defined_once(key: str) -> None:
    clash = Category(key=key, dimension="firmographic", field="x")
    with pytest.raises(ValueError, match="already defined"):
        register(clash)
    assert clash not in definitions()


def test_a_rule_on_an_unknown_attribute_names_every_known_one() -> None:
    rule = Criterion(id="x", attribute="headcount", values=["1"], source="derived")
    with pytest.raises(ScoringError) as caught:
        condition_sql(rule, AnalysisSettings(), "fit[0] x")
    message = str(caught.value)
    assert "'headcount'" in message
    for definition in definitions():
        if definition.family == "fit":
            assert (definition.key if definition.multi_valued else definition.help_name) in message


def test_a_rule_listing_values_of_a_number_says_to_compare_it() -> None:
    rule = Criterion(id="x", attribute="founded_year", values=["1999"], source="derived")
    with pytest.raises(ScoringError, match="compare it with min/max"):
        condition_sql(rule, AnalysisSettings(), "fit[0] x")


def test_the_segments_help_lists_every_attribute_the_analysis_cuts_by() -> None:
    from icpkit.cli.main import app

    analyze: Any = typer.main.get_command(app).commands["analyze"]  # type: ignore[attr-defined]
    option = next(p for p in analyze.commands["segments"].params if p.name == "by")
    assert option.help.startswith(names_help())
