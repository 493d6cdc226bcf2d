import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.booleans import parse_bool


@pytest.mark.parametrize(
    "raw", ["1", "true", "TRUE", "True", "yes", "Yes", "y", "Y", "t", "x", "X", "checked", " on "]
)
def test_true_values(raw: str) -> None:
    assert parse_bool(raw) is True


@pytest.mark.parametrize(
    "raw", ["0", "false", "FALSE", "no", "No", "n", "N", "f", "unchecked", "Unchecked", "off"]
)
def test_false_values(raw: str) -> None:
    assert parse_bool(raw) is False


@pytest.mark.parametrize("raw", ["", "  ", "N/A", "null", "-"])
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_bool(raw) is None


@pytest.mark.parametrize("raw", ["maybe", "2", "yess", "ok"])
def test_other_values_are_unreadable(raw: str) -> None:
    with pytest.raises(Unreadable, match=f"not a yes/no value: '{raw}'"):
        parse_bool(raw)
