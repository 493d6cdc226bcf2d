"""The refit after pruning takes its rules' columns from the first fit's features (grouped
again by those columns): only when they are the same conditions on the same deals, so they
equal the features read afresh."""

from __future__ import annotations

import numpy as np
import pytest

from icpkit.config import Settings
from icpkit.engines.features import Features, compute_features, scored_rules
from icpkit.icp.model import ICP, Criterion, Exclusion
from icpkit.learn.points import closed_deals, kept_columns
from icpkit.workspace import Workspace


@pytest.fixture
def derived(demo_workspace) -> Workspace:  # type: ignore[no-untyped-def]
    return Workspace.open(demo_workspace(800, 5, derived=True).root)


def _features(ws: Workspace, icp: ICP) -> Features:
    with ws.connect(read_only=True) as con:
        closed_deals(con)
        return compute_features(
            con,
            icp,
            ws.settings.analysis,
            persona=ws.settings.scoring.persona,
            point_in_time=True,
        )


def kept_features(
    features: Features, before: ICP, after: ICP, settings: Settings
) -> Features | None:
    """``after``'s columns as :func:`kept_columns` picks them from ``before``'s features."""
    picked = kept_columns(features, before, after, settings)
    if picked is None:
        return None
    rules = scored_rules(after, settings.scoring.persona)
    return Features(rules, features.matches[:, picked], features.ages[:, picked], features.outside)


def _same(a: Features, b: Features) -> None:
    assert [r.id for r in a.rules] == [r.id for r in b.rules]
    assert [r.list for r in a.rules] == [r.list for r in b.rules]
    np.testing.assert_array_equal(a.matches, b.matches)
    np.testing.assert_array_equal(a.ages, b.ages)
    assert [k for k, _ in a.outside] == [k for k, _ in b.outside]
    for (_, x), (_, y) in zip(a.outside, b.outside, strict=True):
        np.testing.assert_array_equal(x, y)


def test_features_of_the_rules_left_equal_those_read_again(derived: Workspace) -> None:
    before = derived.current_icp()
    assert before is not None and len(before.fit) >= 2
    after = before.model_copy(update={"fit": before.fit[1:], "intent": before.intent[:1]})
    kept = kept_features(_features(derived, before), before, after, derived.settings)
    assert kept is not None
    _same(kept, _features(derived, after))


def test_a_disqualifier_moved_to_fit_keeps_its_matches(derived: Workspace) -> None:
    before = derived.current_icp()
    assert before is not None and before.fit
    rule = before.fit[0]
    fields = rule.model_dump(include={"id", "attribute", "values", "min", "max", "evidence"})
    as_exclusion = Exclusion(**fields, kind="disqualifier", source="derived")
    start = before.model_copy(update={"fit": before.fit[1:], "exclusions": [as_exclusion]})
    after = before.model_copy(update={"exclusions": []})
    kept = kept_features(_features(derived, start), start, after, derived.settings)
    assert kept is not None
    _same(kept, _features(derived, after))


def test_a_rule_with_another_condition_is_read_again(derived: Workspace) -> None:
    before = derived.current_icp()
    assert before is not None
    rule = next(c for c in before.fit if c.values and not c.missing)
    changed = rule.model_copy(update={"values": [*rule.values, "no such value"]})  # type: ignore[list-item]
    after = before.model_copy(
        update={"fit": [changed if c.id == rule.id else c for c in before.fit]}
    )
    assert kept_features(_features(derived, before), before, after, derived.settings) is None


def test_a_new_rule_or_a_reopened_boundary_is_read_again(derived: Workspace) -> None:
    before = derived.current_icp()
    assert before is not None
    features = _features(derived, before)
    new = Criterion(id="fit_new", attribute="industry", values=["Nowhere"], source="derived")
    more = before.model_copy(update={"fit": [*before.fit, new]})
    assert kept_features(features, before, more, derived.settings) is None
    boundary = Criterion(id="market", attribute="country", values=["Nowhere"], source="derived")
    reopened = before.model_copy(update={"boundary": [*before.boundary, boundary]})
    assert kept_features(features, before, reopened, derived.settings) is None
