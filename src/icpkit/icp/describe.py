"""Short human-readable text for rules and their evidence, shared by diffs and warnings."""

from __future__ import annotations

import math
from typing import Any

from icpkit.attributes import words
from icpkit.icp.model import Criterion, Evidence, Exclusion, IntentSignal, Rule, format_number


def format_lift(value: float) -> str:
    """A lift as '2.1x' (or '0.35x' below 1, where one decimal would hide the size)."""
    if math.isinf(value):
        return "inf x"
    return f"{value:.1f}x" if value >= 1 else f"{value:.2f}x"


def format_rate(value: float) -> str:
    """A rate as a whole percentage, e.g. '34%'."""
    return f"{value:.0%}"


def format_q(value: float) -> str:
    """A q-value to two significant digits, e.g. '0.041'."""
    return f"{value:.2g}"


def attribute_words(attribute: str) -> str:
    """An attribute as people name it: 'stack density', 'technologies', 'Time Zone' (as its
    definition words it, see icpkit.attributes)."""
    return words(attribute)


def unknown_subject(attribute: str) -> str:
    """The Missing bin of an attribute in words: 'employees unknown'."""
    return f"{attribute_words(attribute)} unknown"


def describe_condition(item: Rule) -> str:
    """What a rule matches, e.g. '51-200 employees', 'industry in Software, SaaS',
    'employees unknown'."""
    if isinstance(item, Criterion) and item.missing:
        return unknown_subject(item.attribute)
    if isinstance(item, IntentSignal):
        details = f" ({', '.join(item.detail_in)})" if item.detail_in else ""
        start, end = item.window_days
        return f"{item.signal}{details} within {start}-{end} days{_decay(item)}"
    text = _criterion_condition(item)
    if isinstance(item, Exclusion):
        return f"{text} [{item.kind}]"
    return f"not {text}" if item.direction == "negative" else text


def _decay(item: IntentSignal) -> str:
    """', half-life 90 days (95% CI 30-365)', or what decay the data leave open."""
    ci = item.half_life_ci
    if item.half_life_days is None:
        return f", no decay (a half-life of {ci[0]} days or more fits as well)" if ci else ""
    text = f", half-life {item.half_life_days} days"
    if ci is not None:
        text += (
            f" (95% CI {ci[0]}-{ci[1]} days)" if ci[1] else f" (95% CI {ci[0]} days to no decay)"
        )
    return text


def _criterion_condition(item: Criterion | Exclusion) -> str:
    if item.values is not None:
        if len(item.values) == 1:
            return f"{item.attribute} = {item.values[0]}"
        return f"{item.attribute} in {', '.join(item.values)}"
    if item.min is not None and item.max is not None:
        return f"{format_number(item.min)}-{format_number(item.max)} {item.attribute}"
    if item.min is not None:
        return f"{item.attribute} >= {format_number(item.min)}"
    assert item.max is not None  # the model requires values, min or max
    return f"{item.attribute} <= {format_number(item.max)}"


def describe_evidence(evidence: Evidence | None) -> str:
    """The headline numbers, e.g. 'lift 2.1x, CI 1.6-2.7x' ('adjusted CI' for a lift adjusted
    for the selection that kept the rule) or 'win rate 34%, n=120'."""
    if evidence is None:
        return ""
    if evidence.lift is not None:
        text = f"lift {format_lift(evidence.lift)}"
        if evidence.lift_ci is not None:
            low, high = evidence.lift_ci
            # A lift adjusted for the selection that kept its rule says so.
            label = "adjusted CI" if evidence.lift_observed is not None else "CI"
            text += f", {label} {format_lift(low).removesuffix('x')}-{format_lift(high)}"
        return text
    return f"win rate {format_rate(evidence.win_rate)}, n={evidence.n_closed}"


def describe_rule(item: Rule) -> str:
    """A rule in one line: its condition, then its evidence or the human's reason; a Missing
    bin says what its points are: 'employees unknown: weight -0.31, decided by the data'."""
    text = describe_condition(item)
    if isinstance(item, Criterion) and item.missing:
        if item.points is not None:
            text += f": {format_number(item.points)} points, set by hand"
        elif item.weight is not None:
            text += f": weight {item.weight:+.2f}, decided by the data"
        else:
            text += ": points to be decided by the data"
    if item.evidence is not None:
        return f"{text} ({describe_evidence(item.evidence)})"
    if item.reason:
        return f"{text} (reason: {item.reason!r})"
    return text


def show_field(name: str, value: Any) -> str:
    """A rule field's value as it reads in a diff."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "window_days":
        return f"{value[0]}-{value[1]} days"
    if name == "weight":
        return f"{value:+.2f}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def show_evidence(name: str, value: Any) -> str:
    """An evidence number at the precision people read it, e.g. lift '2.1x', q '0.041'."""
    if value is None:
        return "n/a"
    if name == "lift":
        return format_lift(value)
    if name in {"win_rate", "base_rate", "churn_rate"}:
        return format_rate(value)
    if name == "q_value":
        return format_q(value)
    return str(value)
