"""The composer's benchmark module reports its DESIGN.md keys (no timing asserted here)."""

from tui import bench


def test_measure_reports_frame_and_cold_start():
    result = bench.measure(1)
    assert set(result) == {"tui_frame_ms", "tui_cold_start_ms"}
    assert all(value > 0 for value in result.values())
    # A first frame needs at least Python's own start-up; a frame at least one row.
    assert result["tui_cold_start_ms"] > result["tui_frame_ms"]
