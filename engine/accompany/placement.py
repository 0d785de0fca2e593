"""Where decoded accompaniment tracks go in the score: their register, their voices, the melody kept."""

from __future__ import annotations

import numpy as np

from engine.accompany.model import AccompanyConfig
from engine.music.score import NUM_VOICES, Score


def track_pitches(classes: np.ndarray, track: int, config: AccompanyConfig, shift: int) -> np.ndarray:
    """Decoded classes of a pitched track -> MIDI pitches in the melody's real register."""
    silence = config.silence_class(track)
    pitches = classes.astype(np.int64) + config.track_low[track] - shift
    pitches = np.where(classes == silence, -1, pitches)
    # Shifting back may push a far voice off the MIDI range: move it by octaves instead.
    while (pitches > 127).any():
        pitches = np.where(pitches > 127, pitches - 12, pitches)
    sounding = classes != silence
    while (sounding & (pitches < 0)).any():
        pitches = np.where(sounding & (pitches < 0), pitches + 12, pitches)
    return np.where(sounding, pitches, -1).astype(np.int16)


def accompaniment_mask(score: Score, melody_voice: int) -> np.ndarray:
    """True on every cell of the voices other than the melody."""
    voices = [v for v in range(NUM_VOICES) if v != melody_voice]
    return score.region_mask(0, score.num_steps, voices)


def _with_accompaniment(score, melody_voice, tracks, model, shift) -> Score:
    """The score with decoded tracks (tracks-1, T) written into the non-melody voices."""
    others = [v for v in range(NUM_VOICES) if v != melody_voice]
    pitches = score.pitches.copy()
    # One octave for all accompanying voices (so none crosses another): with the melody, or in
    # the model's own register, whichever lies nearer the voices' ranges.
    placed = [{v: track_pitches(tracks[j], j + 1, model.config, s) for j, v in enumerate(others)}
              for s in dict.fromkeys((shift, 0))]
    for voice, row in _in_voice_ranges(placed).items():
        pitches[voice] = row
    return score.with_cells(accompaniment_mask(score, melody_voice), pitches)


def _in_voice_ranges(candidates: list[dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """Of the accompanying voices in the melody's octave (first) and in the model's own, the set
    nearer the voices' ranges (summed over them): a melody far out of range (A0-G1) must not drag
    the bass down to MIDI 2, and one shift for all keeps the voices in order."""
    from engine.coconet.ranges import outside_range

    def cost(rows: dict[int, np.ndarray]) -> tuple[int, int]:
        parts = [outside_range(row[row >= 0], voice) for voice, row in rows.items()]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)

    return min(candidates, key=cost)


def restore_melody(result: Score, source: Score, melody_voice: int) -> Score:
    """`result` with the melody voice (pitches and onsets) exactly as in `source`."""
    pitches, onsets = result.pitches.copy(), result.onsets.copy()
    pitches[melody_voice] = source.pitches[melody_voice]
    onsets[melody_voice] = source.onsets[melody_voice]
    return result.replace(pitches=pitches, onsets=onsets)
