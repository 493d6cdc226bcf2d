"""Diffs between ICP versions: rule changes matched by id, with the evidence that moved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from icpkit.icp.diff import Change, diff_icps, format_diff
from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion


def test_identical_icps_have_an_empty_diff_even_with_new_date_and_version(
    make_icp: Callable[..., ICP],
) -> None:
    old = make_icp(version=3)
    new = make_icp(version=4, derived_at=datetime(2027, 1, 1, tzinfo=UTC))
    diff = diff_icps(old, new)
    assert diff.is_empty
    assert not diff.data_changed
    assert format_diff(diff) == []


def test_new_data_alone_is_reported_apart_from_rule_changes(
    make_icp: Callable[..., ICP],
) -> None:
    diff = diff_icps(make_icp(), make_icp(data_fingerprint="sha256:other"))
    assert diff.is_empty
    assert diff.data_changed


def test_added_and_removed_rules_are_listed_by_id(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    new_fit = [
        *sample_icp.fit,
        Criterion(id="tech-hubspot", attribute="tech", values=["HubSpot"], source="derived"),
    ]
    new = make_icp(fit=new_fit, exclusions=[])
    diff = diff_icps(sample_icp, new)
    assert diff.fit.added == ("tech-hubspot",)
    assert diff.exclusions.removed == ("industry-retail",)
    assert diff.boundary.is_empty and diff.intent.is_empty
    assert not diff.is_empty


def test_changed_rule_reports_fields_and_evidence_old_to_new(
    make_icp: Callable[..., ICP], sample_icp: ICP, make_evidence: Callable[..., Evidence]
) -> None:
    first, second = sample_icp.fit
    moved = second.model_copy(
        update={"evidence": make_evidence(lift=1.6, q_value=0.03, n_closed=140)}
    )
    widened = first.model_copy(update={"max": 500.0, "locked": True, "reason": "sales said so"})
    diff = diff_icps(sample_icp, make_icp(fit=[widened, moved]))
    changes = {c.id: c for c in diff.fit.changed}
    assert changes["employees-51-200"].fields == (
        Change("max", 200.0, 500.0),
        Change("locked", False, True),
        Change("reason", None, "sales said so"),
    )
    assert changes["industry-software"].fields == ()
    assert changes["industry-software"].evidence == (
        Change("lift", 1.8, 1.6),
        Change("q_value", 0.002, 0.03),
        Change("n_closed", 120, 140),
    )


def test_evidence_moving_below_the_shown_precision_is_not_a_change(
    make_icp: Callable[..., ICP], sample_icp: ICP, make_evidence: Callable[..., Evidence]
) -> None:
    nudged = sample_icp.fit[1].model_copy(update={"evidence": make_evidence(lift=1.81)})
    diff = diff_icps(sample_icp, make_icp(fit=[sample_icp.fit[0], nudged]))
    assert diff.is_empty


def test_reordered_values_are_not_a_change(make_icp: Callable[..., ICP], sample_icp: ICP) -> None:
    reordered = sample_icp.boundary[0].model_copy(update={"values": ["DK", "NO", "SE"]})
    assert diff_icps(sample_icp, make_icp(boundary=[reordered])).is_empty


def test_rule_moved_to_another_list_is_removed_there_and_added_here(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    software = sample_icp.fit[1]
    as_exclusion = Exclusion(
        id=software.id,
        attribute=software.attribute,
        values=software.values,
        kind="churn",
        source="derived",
    )
    new = make_icp(fit=[sample_icp.fit[0]], exclusions=[*sample_icp.exclusions, as_exclusion])
    diff = diff_icps(sample_icp, new)
    assert diff.fit.removed == ("industry-software",)
    assert diff.exclusions.added == ("industry-software",)


def test_format_diff_gives_readable_lines(
    make_icp: Callable[..., ICP], sample_icp: ICP, make_evidence: Callable[..., Evidence]
) -> None:
    old = make_icp(fit=[sample_icp.fit[1]])
    software = sample_icp.fit[1].model_copy(update={"evidence": make_evidence(lift=1.6)})
    new = make_icp(fit=[sample_icp.fit[0], software], exclusions=[])
    assert format_diff(diff_icps(old, new)) == [
        "+ fit employees-51-200: 51-200 employees (lift 2.1x, CI 1.6-2.7x)",
        "~ fit industry-software: lift 1.8x -> 1.6x",
        "- exclusions industry-retail",
    ]


def test_format_diff_describes_human_rules_by_their_reason(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    human = Criterion(
        id="country-no",
        attribute="country",
        values=["NO"],
        direction="negative",
        source="human",
        reason="no sales team there",
    )
    new = make_icp(boundary=[*sample_icp.boundary, human])
    assert format_diff(diff_icps(sample_icp, new)) == [
        "+ boundary country-no: not country = NO (reason: 'no sales team there')"
    ]
