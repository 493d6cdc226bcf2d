import pytest

from helpers import cases
from icpkit.ingest.normalize.blanks import is_blank


@pytest.mark.parametrize("raw", cases("blanks", "empty_cells_and_null_tokens_are_blank"))
def test_empty_cells_and_null_tokens_are_blank(raw: str | None) -> None:
    assert is_blank(raw)


@pytest.mark.parametrize(
    "raw", cases("blanks", "null_tokens_are_blank_despite_surrounding_whitespace")
)
def test_null_tokens_are_blank_despite_surrounding_whitespace(raw: str) -> None:
    assert is_blank(raw)


@pytest.mark.parametrize("raw", cases("blanks", "real_values_are_not_blank"))
def test_real_values_are_not_blank(raw: str) -> None:
    assert not is_blank(raw)
