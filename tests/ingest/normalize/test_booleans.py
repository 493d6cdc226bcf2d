import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.booleans import parse_bool


@pytest.mark.parametrize("raw", cases("booleans", "true_values"))
def test_true_values(raw: str) -> None:
    assert parse_bool(raw) is True


@pytest.mark.parametrize("raw", cases("booleans", "false_values"))
def test_false_values(raw: str) -> None:
    assert parse_bool(raw) is False


@pytest.mark.parametrize("raw", cases("booleans", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_bool(raw) is None


@pytest.mark.parametrize("raw", cases("booleans", "other_values_are_unreadable"))
def test_other_values_are_unreadable(raw: str) -> None:
    with pytest.raises(Unreadable, match=f"not a yes/no value: '{raw}'"):
        parse_bool(raw)
