"""The ``alerts:`` section of icp.yaml, read as strictly as the rest: each problem names the
file, the line and the key path, and a secret pasted where a variable name belongs is never
echoed."""

from __future__ import annotations

import pytest

from icpkit.config import ConfigError, parse_settings

GOOD = """alerts:
- name: tier-a
  event: tier_entered
  url: https://alerts.example.com/icp
  secret_env: ICP_ALERT_SECRET
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_settings(text, source="icp.yaml")
    return error.value.problems


def test_a_rule_reads_with_its_defaults() -> None:
    (rule,) = parse_settings(GOOD).alerts
    assert (rule.name, rule.event, rule.format, rule.tiers) == (
        "tier-a",
        "tier_entered",
        "generic",
        None,
    )
    assert (rule.max_per_run, rule.max_attempts) == (20, 5)


def test_an_unknown_key_in_a_rule_names_line_and_key_path() -> None:
    (problem,) = problems(GOOD + "  colour: red\n")
    assert problem.startswith("icp.yaml, line 6, column 3: unknown key 'colour' in alerts[0]")


def test_a_misspelt_key_gets_a_suggestion() -> None:
    missing, typo = problems(GOOD.replace("secret_env", "secret_evn"))
    assert "unknown key 'secret_evn'" in typo and "did you mean 'secret_env'?" in typo
    assert "alerts[0].secret_env: is required" in missing


def test_an_unknown_event_is_refused() -> None:
    (problem,) = problems(GOOD.replace("tier_entered", "tier_changed"))
    assert "line 3" in problem and "alerts[0].event" in problem and "tier_entered" in problem


def test_a_secret_pasted_as_secret_env_is_refused_without_being_shown() -> None:
    pasted = "xoxb-1234-very-secret/value"
    (problem,) = problems(GOOD.replace("ICP_ALERT_SECRET", pasted))
    assert "alerts[0].secret_env" in problem and "line 5" in problem
    assert pasted not in problem


def test_url_and_url_env_are_one_or_the_other() -> None:
    (both,) = problems(GOOD + "  url_env: SLACK_WEBHOOK_URL\n")
    assert "exactly one of url and url_env" in both
    (neither,) = problems(GOOD.replace("  url: https://alerts.example.com/icp\n", ""))
    assert "exactly one of url and url_env" in neither
    rules = parse_settings(
        GOOD.replace("url: https://alerts.example.com/icp", "url_env: SLACK_WEBHOOK_URL")
    ).alerts
    assert rules[0].url_env == "SLACK_WEBHOOK_URL"


def test_a_url_that_is_not_a_web_address_is_refused() -> None:
    (problem,) = problems(GOOD.replace("https://alerts.example.com/icp", "alerts.example.com"))
    assert "alerts[0].url" in problem and "http://" in problem


def test_a_filter_on_an_event_it_does_not_apply_to_is_refused() -> None:
    (problem,) = problems(GOOD.replace("tier_entered", "monitor") + "  tiers: [A]\n")
    assert "tiers does not apply to monitor rules" in problem
    (problem,) = problems(GOOD + "  signals: [funding_round]\n")
    assert "signals does not apply to tier_entered rules" in problem


def test_an_unknown_tier_is_refused() -> None:
    (problem,) = problems(GOOD + "  tiers: [A, E]\n")
    assert "alerts[0].tiers[1]" in problem


def test_two_rules_of_one_name_are_refused() -> None:
    (problem,) = problems(GOOD + GOOD.removeprefix("alerts:\n"))
    assert "given twice: tier-a" in problem
