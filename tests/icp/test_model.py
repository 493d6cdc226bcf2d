"""The ICP model: its YAML form is stable, YAML's type guessing is undone, errors name keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import yaml

from icpkit.icp.model import (
    ICP,
    Criterion,
    Evidence,
    ICPError,
    dump_icp,
    icp_from_yaml,
    icp_to_yaml,
    load_icp,
)

RULE = "  - id: {id}\n    attribute: {attribute}\n    source: derived\n"


def document(fit: str, **top: str) -> str:
    """A minimal ICP document with ``fit`` as its fit list."""
    head = {
        "schema_version": "1",
        "version": "1",
        "derived_at": "2026-11-23T09:30:00Z",
        "data_fingerprint": "abc",
    }
    head.update(top)
    return "".join(f"{k}: {v}\n" for k, v in head.items()) + "fit:\n" + fit


def test_yaml_round_trip_is_byte_identical(sample_icp: ICP) -> None:
    text = icp_to_yaml(sample_icp)
    again = icp_to_yaml(icp_from_yaml(text))
    assert again == text
    assert icp_from_yaml(text) == sample_icp


def test_dump_keeps_field_order_and_plain_yaml(sample_icp: ICP) -> None:
    text = icp_to_yaml(sample_icp)
    assert "!!" not in text and "&id" not in text
    data = yaml.safe_load(text)
    assert list(data) == [
        "schema_version",
        "version",
        "derived_at",
        "data_fingerprint",
        "method",
        "boundary",
        "fit",
        "intent",
        "exclusions",
        "notes",
    ]
    assert list(data["fit"][0])[:6] == ["id", "attribute", "min", "max", "direction", "evidence"]
    assert data["derived_at"] == "2026-11-23T09:30:00Z"


def test_dump_leaves_out_unset_keys_and_writes_whole_bounds_as_integers(sample_icp: ICP) -> None:
    rule = dump_icp(sample_icp)["fit"][0]
    assert "values" not in rule and "reason" not in rule and "points" not in rule
    assert rule["min"] == 51 and isinstance(rule["min"], int)
    assert "churn_rate" not in rule["evidence"]


def test_dump_is_the_same_whatever_order_the_method_settings_came_in(
    make_icp: Callable[..., ICP],
) -> None:
    one = make_icp(method={"alpha": 0.05, "min_closed_deals": 30})
    other = make_icp(method={"min_closed_deals": 30, "alpha": 0.05})
    assert icp_to_yaml(one) == icp_to_yaml(other)


def test_evidence_is_rounded_to_four_significant_digits() -> None:
    ev = Evidence(
        n_closed=10,
        wins=3,
        win_rate=0.3333333333,
        base_rate=0.2,
        lift=1.6666666,
        q_value=0.0000123456789,
        lift_ci=(1.123456, float("inf")),
    )
    assert ev.win_rate == 0.3333
    assert ev.lift == 1.667
    assert ev.q_value == 1.235e-05
    assert ev.lift_ci == (1.123, float("inf"))


def test_an_optional_statistic_given_as_nan_is_unknown() -> None:
    ev = Evidence(n_closed=10, wins=3, win_rate=0.3, base_rate=0.2, iv=float("nan"))
    assert ev.iv is None


def test_infinite_upper_bound_of_a_lift_interval_survives_yaml(
    make_icp: Callable[..., ICP], make_evidence: Callable[..., Evidence]
) -> None:
    ev = make_evidence().model_copy(update={"lift_ci": (1.5, float("inf"))})
    icp = make_icp(
        fit=[Criterion(id="a", attribute="x", values=["y"], evidence=ev, source="derived")]
    )
    loaded = icp_from_yaml(icp_to_yaml(icp))
    assert loaded.fit[0].evidence is not None
    assert loaded.fit[0].evidence.lift_ci == (1.5, float("inf"))


def test_norway_and_yes_no_values_stay_strings() -> None:
    text = document(
        "  - id: country-no\n    attribute: country\n    values: [NO, no, yes, on, off, Yes]\n"
        "    source: derived\n"
    )
    icp = icp_from_yaml(text)
    assert icp.fit[0].values == ["NO", "no", "yes", "on", "off", "Yes"]


def test_numbers_and_dates_in_values_keep_the_text_as_written() -> None:
    text = document(
        "  - id: odd\n    attribute: plan\n    values: [1.50, 007, 2024-01-01, 10]\n"
        "    source: derived\n"
    )
    assert icp_from_yaml(text).fit[0].values == ["1.50", "007", "2024-01-01", "10"]


def test_a_single_bare_value_is_a_list_of_one() -> None:
    text = document(
        "  - id: country-no\n    attribute: country\n    values: NO\n    source: derived\n"
    )
    assert icp_from_yaml(text).fit[0].values == ["NO"]


def test_text_fields_and_fingerprint_that_look_like_numbers_stay_text() -> None:
    text = document(
        "  - id: '2024'\n    attribute: cohort\n    values: [x]\n    rationale: yes\n"
        "    source: derived\n",
        data_fingerprint="0123",
    )
    icp = icp_from_yaml(text)
    assert icp.data_fingerprint == "0123"
    assert icp.fit[0].rationale == "yes"


def test_yaml_quoted_values_are_written_so_any_yaml_reader_gets_strings(
    make_icp: Callable[..., ICP],
) -> None:
    rule = Criterion(id="c", attribute="country", values=["NO", "yes", "10"], source="derived")
    text = icp_to_yaml(make_icp(fit=[rule]))
    assert yaml.safe_load(text)["fit"][0]["values"] == ["NO", "yes", "10"]


def test_plain_data_with_booleans_from_a_yaml_1_1_reader_become_text(sample_icp: ICP) -> None:
    data = dump_icp(sample_icp)
    data["boundary"][0]["values"] = [False, True, 7]
    assert load_icp(data).boundary[0].values == ["no", "yes", "7"]


def test_derived_at_read_by_yaml_as_a_datetime_is_accepted_and_kept_in_utc() -> None:
    icp = icp_from_yaml(document("  []\n", derived_at="2026-11-23 11:30:00+02:00"))
    assert icp.derived_at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert dump_icp(icp)["derived_at"] == "2026-11-23T09:30:00Z"


def test_derived_at_without_a_zone_is_taken_as_utc() -> None:
    icp = icp_from_yaml(document("  []\n", derived_at="2026-11-23 09:30:00"))
    assert icp.derived_at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_max_below_min_names_the_key_path() -> None:
    ok = RULE.format(id="a", attribute="x") + "    values: [a]\n"
    bad = RULE.format(id="b", attribute="employees") + "    min: 200\n    max: 50\n"
    with pytest.raises(ICPError) as err:
        icp_from_yaml(document(ok + ok.replace("id: a", "id: c") + bad), source="icp.yaml")
    assert str(err.value) == "icp.yaml: fit[2].max: must be >= min (got 50 < 200)"


def test_human_or_locked_rule_without_reason_names_the_key_path() -> None:
    rule = RULE.format(id="a", attribute="x") + "    values: [a]\n    locked: true\n"
    with pytest.raises(ICPError, match=r"^icp\.yaml: fit\[0\]\.reason: is required when"):
        icp_from_yaml(document(rule))


def test_human_rule_with_a_reason_is_accepted() -> None:
    rule = (
        "  - id: a\n    attribute: x\n    values: [a]\n    source: human\n"
        "    reason: strategic vertical\n"
    )
    assert icp_from_yaml(document(rule)).fit[0].reason == "strategic vertical"


def test_rule_without_values_or_range_is_rejected() -> None:
    with pytest.raises(ICPError, match=r"^icp\.yaml: fit\[0\]: needs `values`"):
        icp_from_yaml(document(RULE.format(id="a", attribute="x")))


def test_rule_with_both_values_and_range_is_rejected() -> None:
    rule = RULE.format(id="a", attribute="x") + "    values: [a]\n    min: 3\n"
    with pytest.raises(ICPError, match=r"fit\[0\]: has both `values` and `min`/`max`"):
        icp_from_yaml(document(rule))


def test_unknown_key_and_wrong_type_name_their_paths() -> None:
    rule = RULE.format(id="a", attribute="x") + "    values: [a]\n    min_value: 3\n"
    bad_type = RULE.format(id="b", attribute="x") + "    min: lots\n"
    with pytest.raises(ICPError) as err:
        icp_from_yaml(document(rule + bad_type), source="team/icp.yaml")
    assert err.value.problems == [
        "team/icp.yaml: fit[0].min_value: is not a known key (a typo?)",
        "team/icp.yaml: fit[1].min: Input should be a valid number, unable to parse string "
        "as a number (got 'lots')",
    ]


def test_intent_window_must_run_forward_from_zero() -> None:
    text = document(
        "  []\nintent:\n  - id: hiring\n    signal: job_posting\n    window_days: [90, 30]\n"
        "    source: derived\n"
    )
    with pytest.raises(ICPError) as err:
        icp_from_yaml(text)
    assert str(err.value) == (
        "icp.yaml: intent[0].window_days: must be [from, to] with 0 <= from < to (got [90, 30])"
    )


def test_boolean_bound_is_rejected_rather_than_read_as_one() -> None:
    rule = RULE.format(id="a", attribute="x") + "    min: true\n"
    with pytest.raises(ICPError, match=r"fit\[0\]\.min: must be a number, not true"):
        icp_from_yaml(document(rule))


def test_id_must_be_a_slug() -> None:
    rule = RULE.format(id="Industry Software", attribute="x") + "    values: [a]\n"
    with pytest.raises(ICPError) as err:
        icp_from_yaml(document(rule))
    assert str(err.value).startswith("icp.yaml: fit[0].id: must be a slug")
    assert str(err.value).endswith("(got 'Industry Software')")


def test_duplicate_ids_are_rejected_naming_both_places(
    make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    data = dump_icp(sample_icp)
    data["exclusions"][0]["id"] = "industry-software"
    with pytest.raises(ICPError) as err:
        load_icp(data)
    assert str(err.value) == (
        "icp.yaml: duplicate id 'industry-software' in fit[1] and exclusions[0]; ids must be unique"
    )


def test_newer_schema_version_is_refused_with_a_hint() -> None:
    with pytest.raises(ICPError, match=r"schema_version: this icpkit reads ICP schema version 1"):
        icp_from_yaml(document("  []\n", schema_version="2"))


def test_invalid_yaml_reports_line_and_column() -> None:
    with pytest.raises(ICPError, match=r"^icp\.yaml, line \d+, column \d+: not valid YAML"):
        icp_from_yaml("fit:\n  - [unclosed\n")


def test_a_repeated_key_in_an_icp_document_is_refused_with_both_lines() -> None:
    text = document("  - id: a\n    attribute: country\n    attribute: region\n    values: [x]\n")
    with pytest.raises(
        ICPError, match=r"duplicate key 'attribute' in fit\[0\], first given on line"
    ):
        icp_from_yaml(text)


def test_a_share_above_one_in_the_evidence_is_refused() -> None:
    evidence = "    evidence: {n_closed: 10, wins: 5, win_rate: 1.4, base_rate: 0.3}\n"
    text = document(
        "  - id: a\n    attribute: country\n    values: [x]\n    source: derived\n" + evidence
    )
    with pytest.raises(
        ICPError, match=r"fit\[0\]\.evidence\.win_rate: is a share; allowed: 0 to 1"
    ):
        icp_from_yaml(text)


def test_the_scoring_model_cannot_have_more_wins_than_deals_or_dates_backwards() -> None:
    scoring = {"method": "logit", "intercept": -1, "deals": 10, "wins": 12}
    base = {"derived_at": "2024-05-01T00:00:00Z", "data_fingerprint": "x"}
    with pytest.raises(ICPError, match=r"scoring\.wins: must be <= deals"):
        load_icp({**base, "scoring": scoring})
    dates = {**scoring, "wins": 5, "closed_from": "2024-02-01", "closed_to": "2024-01-01"}
    with pytest.raises(ICPError, match=r"scoring\.closed_to: must not be before closed_from"):
        load_icp({**base, "scoring": dates})


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ICPError, match="expected a mapping with an ICP, got list"):
        icp_from_yaml("- a\n- b\n")


def test_errors_carry_no_pydantic_dump(make_icp: Callable[..., ICP]) -> None:
    with pytest.raises(ICPError) as err:
        icp_from_yaml(document("  - 3\n"))
    assert "pydantic" not in str(err.value)
    assert "For further information" not in str(err.value)
    assert str(err.value).startswith("icp.yaml: fit[0]: ")
