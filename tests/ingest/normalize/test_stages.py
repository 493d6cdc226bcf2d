import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.stages import (
    DEFAULT_STAGE_OUTCOMES,
    Outcome,
    stage_key,
    stage_outcome,
)


@pytest.mark.parametrize(
    "raw", ["Closed Won", "closed_won", "closedwon", "CLOSED-WON", " Closed  won "]
)
def test_stage_spellings_share_one_key(raw: str) -> None:
    assert stage_key(raw) == "closedwon"


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        ("appointmentscheduled", "open"), ("Appointment Scheduled", "open"),
        ("qualifiedtobuy", "open"), ("Qualified To Buy", "open"),
        ("presentationscheduled", "open"), ("decisionmakerboughtin", "open"),
        ("Decision Maker Bought-In", "open"), ("contractsent", "open"),
        ("Contract Sent", "open"), ("closedwon", "won"), ("Closed Won", "won"),
        ("closedlost", "lost"), ("Closed Lost", "lost"),
    ],
)  # fmt: skip
def test_hubspot_default_stages(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        ("Prospecting", "open"), ("Qualification", "open"), ("Needs Analysis", "open"),
        ("Value Proposition", "open"), ("Id. Decision Makers", "open"),
        ("Perception Analysis", "open"), ("Proposal/Price Quote", "open"),
        ("Negotiation/Review", "open"), ("Closed Won", "won"), ("Closed Lost", "lost"),
    ],
)  # fmt: skip
def test_salesforce_default_stages(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


@pytest.mark.parametrize(("raw", "outcome"), [("won", "won"), ("lost", "lost"), ("open", "open")])
def test_pipedrive_statuses(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


def test_pipedrive_deleted_deals_are_unreadable() -> None:
    with pytest.raises(Unreadable, match="deleted deal"):
        stage_outcome("deleted")


def test_defaults_are_keyed_by_stage_key() -> None:
    assert all(stage_key(key) == key for key in DEFAULT_STAGE_OUTCOMES)
    assert DEFAULT_STAGE_OUTCOMES["iddecisionmakers"] == "open"


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        ("Won - Annual", "won"), ("Contract Signed", "won"), ("Deal booked", "won"),
        ("Closed Won (Upsell)", "won"), ("closedwon_enterprise", "won"),
        ("Lost to competitor", "lost"), ("Disqualified", "lost"), ("No Decision", "lost"),
        ("Churned", "lost"), ("Closed Lost - No Budget", "lost"), ("closedlost_2", "lost"),
        ("Won't proceed", "open"), ("Unsigned", "open"),
        ("Discovery Call", "open"), ("Demo", "open"), ("123456789", "open"),
        ("Demo booked", "open"), ("Meeting Booked", "open"), ("NDA signed", "open"),
        ("Discovery call booked", "open"), ("Pilot signed", "open"),
        ("Booked", "won"), ("Signed", "won"), ("Won after demo", "won"),
        ("Closed Won - demo call", "won"),
    ],
)  # fmt: skip
def test_custom_stages_are_classified_by_their_words(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


def test_overrides_win_over_defaults_and_heuristics() -> None:
    overrides: dict[str, Outcome] = {"Closed-Won": "lost", "verbal yes": "won", "123": "won"}
    assert stage_outcome("CLOSED WON", overrides) == "lost"
    assert stage_outcome("Verbal Yes", overrides) == "won"
    assert stage_outcome("123", overrides) == "won"
    assert stage_outcome("Closed Lost", overrides) == "lost"


@pytest.mark.parametrize("raw", ["", "N/A", "-"])
def test_blank_cells_give_none(raw: str) -> None:
    assert stage_outcome(raw) is None
