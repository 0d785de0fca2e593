"""Shared fixtures for the composer tests: a private state directory and small scores."""

import numpy as np
import pytest

from engine.score import Score


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
