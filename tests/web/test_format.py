"""How values read on the pages: the expected strings are written out by hand (CLDR en and es-MX
both group with "," and mark decimals with "."), not computed by the functions under test."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from silicio.i18n.formats import (
    format_date,
    format_datetime,
    format_integer,
    format_money,
    format_number,
    format_percent,
    format_share,
)
from silicio.web.format import format_cell


@pytest.mark.parametrize(
    "value, expected",
    [
        (55190.0, "55,190"),  # the supply page's 5.519e+04
        (55190, "55,190"),
        (123456789.0, "123,456,789"),
        (1e30, "1,000,000,000,000,000,000,000,000,000,000"),
        (1234.5678, "1,235"),
        (12.3456, "12.35"),
        (1.5, "1.5"),  # trailing zeros dropped
        (2.0, "2"),
        (0.1 + 0.2, "0.3"),  # not 0.30000000000000004
        (0.0000123456, "0.00001235"),
        (-0.00001, "-0.00001"),
        (4.034e8, "403,400,000"),
        (9.99996, "10"),  # rounding carries into the next digit
        (-1e-20, "0"),  # below 15 decimals: zero, never "-0"
        (0, "0"),
        (float("nan"), "—"),
        (float("inf"), "∞"),
        (float("-inf"), "−∞"),
        (None, "—"),
    ],
)
def test_numbers_have_their_significant_digits_and_no_exponent(value, expected):
    assert format_number(value) == expected
    assert format_number(value, language="es") == expected  # Mexico writes numbers as the US does


def test_capability_indices_have_three_significant_digits():
    assert format_cell(1.53218, "capability") == "1.53"
    assert format_cell(12.3456, "capability") == "12.3"
    assert format_cell(0.0, "capability") == "0"


@pytest.mark.parametrize(
    "value, expected",
    [(0.95031, "95.03%"), (1.0, "100.00%"), (0.0, "0.00%"), (0.000049, "0.00%"), (0.12345678, "12.35%")],
)
def test_percentages(value, expected):
    assert format_percent(value) == expected
    assert format_cell(value, "percent", "es") == expected


def test_shares_already_in_percent():
    assert format_share(62.44) == "62.4 %" and format_share(None) == "—"


@pytest.mark.parametrize(
    "value, expected",
    [(55190.0, "55,190 USD"), (1234567.8, "1,234,568 USD"), (12.3456, "12.35 USD"), (0.01234, "0.0123 USD"),
     (0.5, "0.50 USD"), (0, "0 USD"), (-2500.0, "-2,500 USD")],
)  # fmt: skip
def test_money_names_its_currency_after_the_amount(value, expected):
    assert format_money(value) == expected


def test_counts_are_grouped_whole_numbers():
    assert format_integer(6012) == "6,012" and format_integer(55190.4) == "55,190"
    assert format_cell(6012, "integer") == "6,012" and format_cell(6012.0, "integer") == "6,012"
    assert format_cell(55190, "number") == "55,190"  # an int in a number column: no 5.519e+04
    assert format_cell(2010, "id") == "2010"  # a test number is a name, not grouped


def test_missing_and_boolean_values_read_as_words():
    assert format_cell(None) == "—"
    assert format_cell(True) == "yes" and format_cell(False) == "no"
    assert format_cell(True, "text", "es") == "sí" and format_cell(False, "text", "es") == "no"
    assert format_cell(float("nan"), "number") == "—"
    assert format_cell([1.23456789, None, True], "number") == "1.235; —; yes"
    assert format_cell(0.1234567890123456, "text") == "0.1235"  # a float in a text column too


def test_dates_are_iso_or_the_locales_long_form():
    moment = datetime(2026, 12, 2, 14, 5, 33)
    assert format_datetime(moment) == "2026-12-02 14:05"
    assert format_datetime(moment.replace(tzinfo=UTC)) == "2026-12-02 14:05 UTC"
    assert format_cell(moment, "datetime", "es") == "2026-12-02 14:05"
    assert format_date(date(2026, 12, 2)) == "2026-12-02"
    assert format_date("2026-12-02", "es", long=True) == "2 de diciembre de 2026"
    assert format_date("2026-12-02T10:00:00Z", "en", long=True) == "December 2, 2026"
    assert format_date("not a date", "es", long=True) == "not a date"
    assert format_datetime(None) == "—"


def test_ties_round_half_up_on_the_written_value():
    # 0.125 and 12.345 are what the reader sees: they round up, as by hand (not to even).
    assert format_number(0.125, 2) == "0.13" and format_money(12.345) == "12.35 USD"
    assert format_percent(0.000125) == "0.01%"
