"""The command line's argument types."""

import pytest

import command_line


def test_positive_int_rejects_zero_negatives_and_text():
    import argparse
    assert command_line.positive_int("3") == 3
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            command_line.positive_int(bad)


def test_parse_shard_rejects_bad_values():
    import argparse
    assert command_line.parse_shard("2/5") == (2, 5)
    for bad in ("0/3", "4/3", "x", "1-3"):
        with pytest.raises(argparse.ArgumentTypeError):
            command_line.parse_shard(bad)
