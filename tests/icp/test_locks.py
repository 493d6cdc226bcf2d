"""Re-deriving the ICP keeps locked and hand-made rules, and says where the data disagree."""

from __future__ import annotations

from collections.abc import Callable

from icpkit.icp.locks import apply_human_decisions
from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion


def test_without_a_previous_icp_the_derivation_is_kept_as_is(sample_icp: ICP) -> None:
    merged, messages = apply_human_decisions(sample_icp, None)
    assert merged == sample_icp
    assert messages == []


def test_unlocked_derived_rules_follow_the_new_data(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    derived = make_icp(exclusions=[])
    merged, messages = apply_human_decisions(derived, sample_icp)
    assert merged.exclusions == []
    assert messages == []


def test_locked_rule_replaces_the_derived_rule_with_the_same_id(
    make_icp: Callable[..., ICP], make_evidence: Callable[..., Evidence]
) -> None:
    previous = make_icp()
    locked = previous.fit[0].model_copy(
        update={"max": 500.0, "locked": True, "reason": "sales can serve up to 500"}
    )
    previous.fit[0] = locked
    derived = make_icp()
    derived.fit[1] = derived.fit[1].model_copy(update={"evidence": make_evidence(lift=1.5)})
    merged, messages = apply_human_decisions(derived, previous)
    assert [c.id for c in merged.fit] == ["employees-51-200", "industry-software"]
    assert merged.fit[0] == locked
    assert merged.fit[1] == derived.fit[1]
    assert messages == []


def test_human_rule_missing_from_the_derivation_is_added_and_reported(
    make_icp: Callable[..., ICP],
) -> None:
    human = Exclusion(
        id="industry-gambling",
        attribute="industry",
        values=["Gambling"],
        kind="human",
        source="human",
        reason="brand policy",
    )
    previous = make_icp(exclusions=[human])
    merged, messages = apply_human_decisions(make_icp(), previous)
    assert [e.id for e in merged.exclusions] == ["industry-retail", "industry-gambling"]
    assert messages == [
        "exclusions industry-gambling is set by hand (reason: 'brand policy'); the data do "
        "not show it on their own (not found in the new derivation)"
    ]


def test_derived_rules_never_override_human_ones(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    human = sample_icp.fit[1].model_copy(
        update={"values": ["Software", "SaaS"], "source": "human", "reason": "same market"}
    )
    previous = make_icp(fit=[sample_icp.fit[0], human])
    merged, _ = apply_human_decisions(sample_icp, previous)
    assert merged.fit[1].values == ["Software", "SaaS"]
    assert merged.fit[1].source == "human"


def test_locked_rule_the_data_now_turn_against_is_reported_with_evidence(
    make_icp: Callable[..., ICP], sample_icp: ICP, make_evidence: Callable[..., Evidence]
) -> None:
    retail = Criterion(
        id="industry-retail-fit",
        attribute="industry",
        values=["Retail"],
        source="derived",
        locked=True,
        reason="strategic vertical",
    )
    previous = make_icp(fit=[*sample_icp.fit, retail])
    against = retail.model_copy(
        update={
            "direction": "negative",
            "locked": False,
            "reason": None,
            "evidence": make_evidence(lift=0.6, q_value=0.02),
        }
    )
    merged, messages = apply_human_decisions(make_icp(fit=[*sample_icp.fit, against]), previous)
    assert merged.fit[2].direction == "positive"
    assert messages == [
        "fit industry-retail-fit is locked (reason: 'strategic vertical') but the data now "
        "point the other way: negative (lift 0.60x, CI 1.6-2.7x, q=0.02)"
    ]


def test_locked_rule_the_data_no_longer_find_significant_is_reported(
    make_icp: Callable[..., ICP], sample_icp: ICP, make_evidence: Callable[..., Evidence]
) -> None:
    locked = sample_icp.fit[1].model_copy(update={"locked": True, "reason": "strategic vertical"})
    previous = make_icp(fit=[sample_icp.fit[0], locked])
    weak = sample_icp.fit[1].model_copy(update={"evidence": make_evidence(q_value=0.41)})
    merged, messages = apply_human_decisions(make_icp(fit=[sample_icp.fit[0], weak]), previous)
    assert merged.fit[1] == locked
    assert messages == [
        "fit industry-software is locked (reason: 'strategic vertical') but the data no longer "
        "support it: not significant (q=0.41)"
    ]


def test_locked_rule_the_data_move_to_another_list_wins_and_is_reported(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    locked = sample_icp.fit[1].model_copy(update={"locked": True, "reason": "core market"})
    previous = make_icp(fit=[sample_icp.fit[0], locked])
    now_excluded = Exclusion(
        id="industry-software",
        attribute="industry",
        values=["Software"],
        kind="churn",
        source="derived",
    )
    derived = make_icp(fit=[sample_icp.fit[0]], exclusions=[now_excluded])
    merged, messages = apply_human_decisions(derived, previous)
    assert [c.id for c in merged.fit] == ["employees-51-200", "industry-software"]
    assert merged.exclusions == []
    assert messages == [
        "fit industry-software is locked (reason: 'core market') but the data now put it in "
        "exclusions"
    ]


def test_kept_rules_are_copies_not_shared_with_the_previous_icp(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    locked = sample_icp.fit[0].model_copy(update={"locked": True, "reason": "keep"})
    previous = make_icp(fit=[locked])
    merged, _ = apply_human_decisions(make_icp(fit=[]), previous)
    assert merged.fit[0] == locked
    assert merged.fit[0] is not locked
