"""Shared fixtures for the composer tests: a private state directory and small scores."""

import numpy as np
import pytest

from engine.music.score import Score


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    """Recovery files go to a throw-away XDG_STATE_HOME, never the user's."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def chorale_bar(bars: int = 2) -> Score:
    """A plain four-part texture: whole-bar chords of C major / G7 alternating."""
    chords = [(72, 64, 55, 48), (71, 62, 53, 43)]
    pitches = np.zeros((4, 16 * bars), dtype=np.int16)
    for b in range(bars):
        for v in range(4):
            pitches[v, b * 16 : (b + 1) * 16] = chords[b % 2][v]
    return Score(pitches, title="test")


@pytest.fixture
def small_score():
    return chorale_bar(2)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """An untrained two-layer Coconet saved the way shipped weights are."""
    import torch

    from engine.coconet.loading import save_coconet
    from engine.coconet.model import Coconet, CoconetConfig

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_coconet(
        path,
        Coconet(CoconetConfig(depth=2, width=8)),
        step=0,
        metrics={},
        data={"name": "none (test)"},
    )
    return path


def grid_text(roll, rows: int = 12) -> str:
    """The first rows of the pianoroll as plain text."""
    return "\n".join("".join(seg.text for seg in roll.render_line(y)) for y in range(rows))


async def wait_until(pilot, condition, seconds: float = 30.0) -> bool:
    """Let the app run until `condition()` holds (worker threads post their messages)."""
    import time

    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        await pilot.pause(0.05)
    return True
