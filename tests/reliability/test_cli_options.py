"""Bad option values: one line, `cantor: error: ...`, exit status 2; never a traceback."""

from __future__ import annotations

import pytest

from .conftest import cantor, one_error_line


@pytest.mark.parametrize("seed", [str(2**64), str(-(2**63) - 1), "-1", "1e3"])
def test_seeds_out_of_range_are_usage_errors(tmp_path, seed):
    line = one_error_line(cantor("compose", "-o", tmp_path / "o.mid", "--seed", seed), status=2)
    assert "seed must be a whole number in range 0..4294967295" in line
    assert "see `cantor compose --help`" in line


def test_missing_arguments_are_one_line_with_status_2():
    line = one_error_line(cantor("render"), status=2)
    assert "the following arguments are required" in line and "usage:" not in line
