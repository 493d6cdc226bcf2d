import pytest

from icpkit.ingest.normalize.blanks import is_blank


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "\t", "N/A", "n/a", "NA", "null", "NULL", "None", "-", "--", "#N/A"]
)
def test_empty_cells_and_null_tokens_are_blank(raw: str | None) -> None:
    assert is_blank(raw)


@pytest.mark.parametrize("raw", [" N/A ", "  null\t"])
def test_null_tokens_are_blank_despite_surrounding_whitespace(raw: str) -> None:
    assert is_blank(raw)


@pytest.mark.parametrize("raw", ["0", "No", "n", "Nancy", "---x", "A", "none of them", "—text"])
def test_real_values_are_not_blank(raw: str) -> None:
    assert not is_blank(raw)
