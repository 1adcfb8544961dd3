"""Argument types shared by the commands (``cli/_common.py``): population sizes."""

from __future__ import annotations

import argparse

import pytest


@pytest.mark.parametrize(
    "text, value",
    [("1e9", 10**9), ("10**9", 10**9), ("1_000", 1000), ("1.5e3", 1500), ("1e18", 10**18)],
)
def test_population_sizes_are_read_exactly(text: str, value: int) -> None:
    from altmarl.cli._common import big_int

    assert big_int(text) == value


@pytest.mark.parametrize("text", ["1e19", "1e400", "-1e400", "1.5", "nan", "inf", "10**99", "0"])
def test_population_sizes_out_of_range_are_refused(text: str) -> None:
    from altmarl.cli._common import big_int

    with pytest.raises(argparse.ArgumentTypeError):
        big_int(text)
