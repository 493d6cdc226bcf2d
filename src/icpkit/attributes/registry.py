"""The attributes icpkit knows, in the order the analysis lists them, and the lookups every
reader uses: the analysis frame, the features of the joint model, the compiled scorecard,
the Python reference and the command-line help.

Adding an attribute is one definition here (or :func:`register` at run time) plus one
fixture file of inputs and expected values (tests/fixtures/attributes/<key>.yaml) that
proves its SQL and its Python agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from icpkit.attributes.base import Context, Definition
from icpkit.attributes.kinds import (
    Age,
    Answer,
    Category,
    DatedSignal,
    ExtraColumn,
    ListCount,
    Number,
    NumericRange,
    Technology,
)
from icpkit.config import AnalysisSettings
from icpkit.vocabulary import Dimension

BUILT_IN: tuple[Definition, ...] = (
    NumericRange(
        key="employees",
        dimension="firmographic",
        inputs={"employees": "BIGINT"},
        field="employees",
        bounds=lambda s: s.employee_buckets,
        fmt="count",
        rule_range=True,
    ),
    NumericRange(
        key="revenue",
        dimension="firmographic",
        inputs={"revenue": "DOUBLE"},
        field="revenue",
        bounds=lambda s: s.revenue_buckets,
        fmt="money",
    ),
    Category(
        key="industry", dimension="firmographic", inputs={"industry": "VARCHAR"}, field="industry"
    ),
    Category(
        key="country", dimension="firmographic", inputs={"country": "VARCHAR"}, field="country"
    ),
    ListCount(
        key="stack_density",
        dimension="technographic",
        inputs={"technologies": "VARCHAR[]"},
        field="technologies",
        bounds=(2, 5, 8),
        unit=" tools",
    ),
    Age(
        key="company_age",
        dimension="firmographic",
        inputs={"founded_year": "INTEGER"},
        field="founded_year",
        bounds=(2, 5, 10, 20),
        unit=" years",
    ),
    Category(
        key="funding_stage",
        dimension="firmographic",
        inputs={"funding_stage": "VARCHAR"},
        field="funding_stage",
        when_varied=True,
    ),
    Technology(
        key="tech",
        prefix="tech:",
        pattern_help="tech:<tool>",
        label="technologies",
        dimension="technographic",
        inputs={"technologies": "VARCHAR[]"},
    ),
    ExtraColumn(
        key="extra", prefix="extra:", pattern_help="extra:<column>", dimension="firmographic"
    ),
    # What a company says of itself on its pages (sells to enterprises, has a free plan):
    # account facts, not dated events, in the dimension of the other account facts.
    Answer(key="answer", prefix="answer:", pattern_help="answer:<key>", dimension="firmographic"),
    DatedSignal(
        key="signal",
        prefix="signal:",
        pattern_help="signal:<type>:<detail>",
        dimension="behavioral",
        inputs={"signal_type": "VARCHAR", "detail": "VARCHAR", "observed_at": "TIMESTAMP"},
    ),
    Number(
        key="founded_year",
        dimension="firmographic",
        inputs={"founded_year": "INTEGER"},
        field="founded_year",
    ),
    Number(
        key="total_funding",
        dimension="firmographic",
        inputs={"total_funding": "DOUBLE"},
        field="total_funding",
    ),
)

_definitions: list[Definition] = list(BUILT_IN)
# What a name no definition owns reads as: its own words, its values listed.
_PLAIN = Category(key="", dimension="firmographic")


def definitions() -> tuple[Definition, ...]:
    """Every registered definition, in the order the analysis lists their attributes."""
    return tuple(_definitions)


def register(definition: Definition) -> None:
    """Add ``definition`` after the others; its key and names must be its own."""
    for other in _definitions:
        if other.key == definition.key or other.owns(definition.key) or definition.owns(other.key):
            raise ValueError(f"attribute {definition.key!r} is already defined ({other.help_name})")
    _definitions.append(definition)


def unregister(key: str) -> None:
    """Remove the definition named ``key``."""
    _definitions[:] = [d for d in _definitions if d.key != key]


@contextmanager
def registered(definition: Definition) -> Iterator[Definition]:
    """``definition`` registered for the duration of a ``with`` block."""
    register(definition)
    try:
        yield definition
    finally:
        unregister(definition.key)


def definition_of(name: str) -> Definition | None:
    """The definition of attribute (or rule attribute) ``name``: 'employees',
    'tech:HubSpot', 'tech', 'extra:Time Zone'; None for a name no definition owns."""
    return next((d for d in _definitions if d.owns(name)), None)


def _known(name: str) -> Definition:
    return definition_of(name) or _PLAIN


def words(name: str) -> str:
    """How a person names attribute ``name``: 'employees', 'stack density', 'technologies'
    ('tech'), 'Time Zone' ('extra:Time Zone'), or the label its definition gives it."""
    return _known(name).words(name)


def describe_cut(name: str, values: Sequence[str]) -> str:
    """Plain words for a cut of ``name`` to ``values``: '51-200 employees', 'industry
    Software', 'uses HubSpot'."""
    return _known(name).describe(name, values)


def rule_attribute(name: str) -> str:
    """The attribute a rule on the cut ``name`` names ('tech:HubSpot' -> 'tech')."""
    return _known(name).rule_attribute(name)


def rule_fields(name: str, values: Sequence[str]) -> dict[str, Any]:
    """A rule's ``values``, or ``min``/``max``, for the cut of ``name`` to ``values``:
    {'min': 51, 'max': 500} for '51-200' and '201-500' employees, {'values': ['HubSpot']}
    for 'tech:HubSpot' yes."""
    return _known(name).rule_fields(name, values)


def rule_text(name: str, values: Sequence[str] | None, span: str = "") -> str:
    """A rule on ``name`` as a reason reads: 'Industry Software', 'Uses HubSpot', '51-200
    employees' (``span``: its min/max in words when it lists no values)."""
    return _known(name).rule_text(name, values, span)


def input_columns() -> dict[str, str]:
    """The account fields the fit attributes read, with their SQL types, in the order of
    the definitions: the input layout a scored table or a universe carries."""
    columns: dict[str, str] = {}
    for definition in _definitions:
        if definition.family == "fit":
            for name, kind in definition.inputs.items():
                columns.setdefault(name, kind)
    return columns


def _bin_owner(definition: Definition) -> Definition:
    """Among the definitions reading exactly ``definition``'s inputs, the one whose
    Missing bin they share: a family listing the field's values itself (the stack: 'tech')
    first, then one the analysis cuts deals by, then the first defined."""
    group = [d for d in _definitions if d.inputs and dict(d.inputs) == dict(definition.inputs)]
    return min(
        group or [definition],
        key=lambda d: (not d.multi_valued, not d.analyzed, _definitions.index(d)),
    )


def unknown_bin(name: str) -> str:
    """The attribute whose Missing bin holds ``name``'s unknown values. Attributes that read
    the same fields are unknown on the same accounts and share one bin: 'tech' for 'tech',
    'tech:HubSpot' and 'stack_density' (all read the technologies), 'company_age' for
    'founded_year'; any other attribute is its own bin."""
    definition = definition_of(name)
    if definition is None or not definition.inputs:
        return name
    owner = _bin_owner(definition)
    if owner.prefix is not None and not owner.multi_valued:
        return name  # a family's names, each with a value of its own
    return name if owner is definition and owner.prefix is None else owner.key


def names_help(*, analyzed: bool = True) -> str:
    """The attribute names a person can write, for help texts: 'employees, revenue, ...,
    tech:<tool>, extra:<column>, answer:<key>, signal:<type>:<detail>'. With ``analyzed``
    only those the analysis cuts deals by; else every name a rule may use."""
    if analyzed:
        return ", ".join(d.help_name for d in _definitions if not isinstance(d, Number))
    return ", ".join(
        d.key if d.multi_valued else d.help_name for d in _definitions if d.family == "fit"
    )


def numeric_names() -> list[str]:
    """Attributes a rule can compare with min/max."""
    return [d.key for d in _definitions if d.number_sql(d.key, Context()) is not None]


def value_sql(
    name: str,
    settings: AnalysisSettings,
    as_of: str = "c.created_at",
    *,
    extra_columns: bool = False,
    point_in_time: bool = False,
) -> str | None:
    """SQL giving an account's value of attribute ``name`` (alias ``a``: accounts) on the day
    ``as_of``; None for a name that is not an account attribute. With ``extra_columns`` an
    unmapped field ``extra:X`` is read from a column ``X`` (as in a warehouse table) rather
    than from the store's JSON. With ``point_in_time`` the stack and head count are those of
    the deal's day, from the closed-deal table (alias ``c``)."""
    definition = definition_of(name)
    if definition is None or definition.family != "fit":
        return None
    ctx = Context(as_of=as_of, point_in_time=point_in_time, extra_columns=extra_columns)
    return definition.sql(name, settings, ctx)


def number_sql(name: str, ctx: Context | None = None) -> str | None:
    """SQL of the number a min/max rule on ``name`` compares; None when it has none."""
    definition = definition_of(name)
    return None if definition is None else definition.number_sql(name, ctx or Context())


def number(name: str, account: Mapping[str, Any]) -> float | None:
    """Python's :func:`number_sql` for one account (None when unknown)."""
    definition = definition_of(name)
    if definition is None or definition.number_sql(name, Context()) is None:
        raise ValueError(f"attribute {name!r} has no number to compare with min/max")
    return definition.number(name, account)


def attribute_value(
    name: str,
    account: Mapping[str, Any],
    day: dt.date | None,
    settings: AnalysisSettings,
    signals: Sequence[Mapping[str, Any]] = (),
) -> str:
    """An account's value of attribute ``name`` on ``day``, as the analysis labels it."""
    definition = definition_of(name)
    if definition is None:
        raise ValueError(f"unknown attribute {name!r}; known: {names_help(analyzed=False)}")
    return definition.value(name, account, day, settings, signals)


def dimension_of_attribute(name: str) -> Dimension:
    """The dimension a rule on attribute ``name`` scores in (firmographic when unknown)."""
    definition = definition_of(name)
    return definition.dimension if definition is not None else "firmographic"


def multi_valued(name: str) -> bool:
    """Whether rules on ``name`` can all match one account together (tools of a stack)."""
    definition = definition_of(name)
    return definition is not None and definition.multi_valued and name == definition.key
