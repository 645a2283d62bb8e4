"""The admin table renderer: aligned columns, numbers right, USD with 4 to 6 decimals, '-' for nothing."""

from __future__ import annotations

import pytest

from gateway.admin.table import Column, format_usd, render_table


@pytest.mark.parametrize(
    ("usd", "text"),
    [(5, "5.0000"), (1.23, "1.2300"), (0.123456, "0.123456"), (0.00012, "0.00012"), (0.0000004, "0.0000"),
     (1234.5, "1234.5000")],
)
def test_usd_has_four_to_six_decimals(usd: float, text: str) -> None:
    assert format_usd(usd) == text


def test_columns_align_text_left_numbers_right() -> None:
    columns = [Column("model"), Column("spent", "usd"), Column("calls", "int"), Column("share", "percent")]
    text = render_table(columns, [["a/long-model-name", 12.5, 3, 99.95], ["b", 0.000123, None, None]])
    assert text.splitlines() == [
        "model                 spent  calls   share",
        "-----------------  --------  -----  ------",
        "a/long-model-name   12.5000      3  100.0%",  # percent rounds to one decimal
        "b                  0.000123      -       -",
    ]


def test_mismatched_row_is_an_error_not_a_shifted_table() -> None:
    with pytest.raises(ValueError):
        render_table([Column("a"), Column("b")], [["only one"]])
