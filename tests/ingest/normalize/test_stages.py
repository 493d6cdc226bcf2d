import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.stages import (
    DEFAULT_STAGE_OUTCOMES,
    Outcome,
    stage_key,
    stage_outcome,
)


@pytest.mark.parametrize("raw", cases("stages", "stage_spellings_share_one_key"))
def test_stage_spellings_share_one_key(raw: str) -> None:
    assert stage_key(raw) == "closedwon"


@pytest.mark.parametrize(
    ("raw", "outcome"),
    cases("stages", "hubspot_default_stages"),
)  # fmt: skip
def test_hubspot_default_stages(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


@pytest.mark.parametrize(
    ("raw", "outcome"),
    cases("stages", "salesforce_default_stages"),
)  # fmt: skip
def test_salesforce_default_stages(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


@pytest.mark.parametrize(("raw", "outcome"), cases("stages", "pipedrive_statuses"))
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
    cases("stages", "custom_stages_are_classified_by_their_words"),
)  # fmt: skip
def test_custom_stages_are_classified_by_their_words(raw: str, outcome: Outcome) -> None:
    assert stage_outcome(raw) == outcome


def test_overrides_win_over_defaults_and_heuristics() -> None:
    overrides: dict[str, Outcome] = {"Closed-Won": "lost", "verbal yes": "won", "123": "won"}
    assert stage_outcome("CLOSED WON", overrides) == "lost"
    assert stage_outcome("Verbal Yes", overrides) == "won"
    assert stage_outcome("123", overrides) == "won"
    assert stage_outcome("Closed Lost", overrides) == "lost"


@pytest.mark.parametrize("raw", cases("stages", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert stage_outcome(raw) is None
