"""The plan of a piece composed from nothing: a key, phrase ends, and the tonic at both ends.

A blank score tells the structure-aware model nothing but its meter, so a piece composed from
it wanders between keys and stops anywhere (4 of 5 such pieces ended off any tonic). Bach's
chorales, which the model learned from, have a key, phrases of about two 4/4 bars each closed by
a fermata, and a last chord on the tonic. `Composer.compose` gives the model the same: the score
gets a key (the one asked for, else one drawn by the request's seed with the frequencies of the
keys of the JSB chorales) and fermatas at its phrase ends, both of which the model reads as
input (engine/coconet/structure.py), and with `ending="tonic"` the last chord's bass and melody
are the tonic; with `opening="tonic"` the bass starts on it, under a melody that starts on the
tonic, the fifth or the third (as Bach's do). Everything else is the model's.

Where the phrase ends go is what Bach's chorales do (measured on the 154 matched train chorales,
engine/training/chorale_meta.py): a phrase is two bars in 4/4 (430 of 751 phrase lengths; four
bars in 3/4) counted from the first downbeat, and the next phrase's pickup is taken from its end,
so the fermata note runs from the bar's last strong beat to that pickup: a half note on beat 3
without a pickup, a quarter on beat 3 with a one-beat pickup (the two commonest shapes, 255 and
547 of 1,331 inner fermatas in 4/4); in 3/4 a dotted half or, with a pickup, a half on the
downbeat. The last note is held from the last strong beat to the end.
"""

from __future__ import annotations

import numpy as np

from engine.coconet.ties import chord_starts
from engine.coconet.tonic import BASS_HOME
from engine.errors import ScoreError
from engine.music.analysis import beat_length, key_description, parse_key_name
from engine.music.counterpoint import RANGES
from engine.music.keys import parse_key
from engine.music.score import Score

# Keys of the 134 JSB-16th train chorales in 4/4 matched in music21's corpus, with their counts:
# what a key drawn by the seed is drawn from (keys of fewer than four chorales left out).
CHORALE_KEYS = (("G", 17), ("Dm", 16), ("A", 13), ("Gm", 13), ("Am", 13), ("Em", 12), ("D", 8),
                ("C", 8), ("Bb", 7), ("F", 7), ("Bm", 5), ("Eb", 5), ("E", 4))
# The melody's first note (where all four voices first sound) in the 229 JSB-16th train chorales,
# in their keys (engine/training/chorale_meta.py): 125 on the tonic, 63 on the fifth, 34 on the
# third, 7 elsewhere.
OPENING_DEGREES = (("1", 125), ("5", 63), ("3", 34))
MAX_PHRASE_BARS = 64
SOPRANO_HOME = 69  # A4: of the tonics in the soprano's range, the one nearer this ends the melody


def drawn_key(seed: int) -> str:
    """A key for a request that names none: drawn by `seed` as often as Bach's chorales use it."""
    names = [name for name, _ in CHORALE_KEYS]
    weights = np.array([count for _, count in CHORALE_KEYS], dtype=float)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x6B6579])  # not the sampler's stream
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def compose_key(key: str | None, seed: int) -> str:
    """The key name (mido's spelling) to compose in: `key` parsed ("D minor", "Bb", "f#m"), or
    the drawn one."""
    return drawn_key(seed) if key is None else parse_key_name(str(key))


def phrase_bars(score: Score) -> int:
    """Bars a phrase, by default: two where a bar holds four felt beats or more, else four."""
    return 2 if score.steps_per_bar // beat_length(score) >= 4 else 4


def _closing_span(score: Score) -> int:
    """Steps from the bar's last strong beat to the bar line: half a bar of four (or six, ...)
    felt beats, else the whole bar."""
    beats = score.steps_per_bar // beat_length(score)
    return score.steps_per_bar // 2 if beats >= 4 and beats % 2 == 0 else score.steps_per_bar


def phrase_ends(score: Score, bars: int | None = None) -> np.ndarray:
    """Bool (T,): the fermata steps of `score`'s phrase ends, a phrase every `bars` bars (None:
    `phrase_bars`; 0: the last note only). A last phrase shorter than `bars` joins the one before."""
    bars = phrase_bars(score) if bars is None else int(bars)
    if not 0 <= bars <= MAX_PHRASE_BARS:
        raise ScoreError(f"bars a phrase must be in range 0..{MAX_PHRASE_BARS}; got {bars}")
    steps, bar, pickup = score.num_steps, score.steps_per_bar, score.pickup
    span, beat = _closing_span(score), beat_length(score)
    ends = np.zeros(steps, dtype=bool)
    ends[max(0, steps - span):] = True
    if bars:
        length = max(span - pickup, beat)
        end = bars * bar  # the next phrase's pickup starts here (pickup + bars * bar - pickup)
        while end + bars * bar <= steps:
            ends[max(0, end - length):end] = True
            end += bars * bar
    return ends


def planned(score: Score, key: str, phrase: int | None) -> Score:
    """`score` with the key and the phrase ends of the plan."""
    if parse_key(key) is None:
        raise ScoreError(f"not a key: {key!r}")
    return score.replace(key=key, fermatas=phrase_ends(score, phrase))


def plan_piece(bars: int, time_signature, pickup: int, *, key: str | None, phrase: int | None,
               opening: str, ending: str, seed: int,
               chords: str = "free") -> tuple[Score, np.ndarray, str]:
    """(blank score with its plan, mask of the cells to generate, what to tell the user)."""
    if chords == "melody":  # the pinned notes are no melody to follow
        raise ScoreError("harmonic rhythm 'melody' needs a kept melody (the soprano); compose"
                         " writes the melody itself")
    for name, value in (("opening", opening), ("ending", ending)):
        if value not in ("tonic", "free"):
            raise ScoreError(f"{name} must be one of tonic, free; got {value!r}")
    blank = Score.empty(1, time_signature=tuple(time_signature), pickup=pickup)
    score = Score.empty(pickup + int(bars) * blank.steps_per_bar, **blank.meta())
    name = compose_key(key, seed)
    score = planned(score, name, phrase)
    mask = np.ones(score.pitches.shape, dtype=bool)
    starts = chord_starts(score, mask, chords)
    if ending == "tonic":
        score, mask = pin_tonic_ending(score, mask, starts)
    if opening == "tonic":
        score, mask = pin_tonic_opening(score, mask, seed, starts)
    marks = score.fermatas
    phrases = int((marks & ~np.concatenate(([False], marks[:-1]))).sum())
    every = phrase_bars(score) if phrase is None else phrase
    length = f" of {every} bar{'s' if every != 1 else ''}" if phrases * every == int(bars) else ""
    told = f"{phrases} phrases{length}" if phrases > 1 else "one phrase"
    return score, mask, f"composed in {key_description(name)}, {told}"


def pin_tonic_ending(score: Score, mask: np.ndarray,
                     starts: np.ndarray | None = None) -> tuple[Score, np.ndarray]:
    """The last chord's bass and melody written as the key's tonic over the last fermata (the
    whole last note; under a harmonic rhythm, `starts`, from the start of the chord it falls
    in), taken out of `mask`; unchanged where either voice is kept there."""
    tonic = parse_key(score.key)[0]
    last = np.flatnonzero(~score.fermatas[:-1] & score.fermatas[1:])
    start = int(last[-1]) + 1 if last.size else 0
    if starts is not None:
        start = int(np.flatnonzero(starts[:start + 1])[-1])
    end = score.num_steps
    return _pin(score, mask, ((0, SOPRANO_HOME, tonic, start, end), (3, BASS_HOME, tonic, start, end)))


def pin_tonic_opening(score: Score, mask: np.ndarray, seed: int = 0,
                      starts: np.ndarray | None = None) -> tuple[Score, np.ndarray]:
    """The first chord's bass written as the key's tonic and its melody note as the tonic, the
    fifth or the third (drawn by `seed` as often as Bach's chorales open on each), for the first
    felt beat (or up to the first downbeat, for a shorter pickup); under a harmonic rhythm
    (`starts`) the bass holds the tonic for the whole first chord."""
    tonic, minor = parse_key(score.key)
    beat = beat_length(score)
    end = min(min(beat, score.pickup) if score.pickup else beat, score.num_steps)
    bass_end = end
    if starts is not None:
        later = np.flatnonzero(starts[1:]) + 1
        bass_end = int(later[0]) if later.size else score.num_steps
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x6F70656E])  # not the sampler's stream
    weights = np.array([count for _, count in OPENING_DEGREES], dtype=float)
    degree = OPENING_DEGREES[int(rng.choice(len(weights), p=weights / weights.sum()))][0]
    third = 3 if minor else 4
    melody = (tonic + {"1": 0, "3": third, "5": 7}[degree]) % 12
    return _pin(score, mask, ((0, SOPRANO_HOME, melody, 0, end), (3, BASS_HOME, tonic, 0, bass_end)))


def _pin(score: Score, mask: np.ndarray, voices):
    """`voices`: (voice, home pitch, pitch class, start, end) each; nothing is pinned where any of
    those cells is kept (or already pinned)."""
    if any(end <= start or not mask[v, start:end].all() for v, _, _, start, end in voices):
        return score, mask
    pitches, onsets, mask = score.pitches.copy(), score.onsets.copy(), mask.copy()
    for voice, home, pitch_class, start, end in voices:
        low, high = RANGES[voice]
        pitch = min((p for p in range(low, high + 1) if p % 12 == pitch_class),
                    key=lambda p: (abs(p - home), p))
        pitches[voice, start:end] = pitch
        onsets[voice, start:end] = False
        onsets[voice, start] = True
        if end < pitches.shape[1] and pitches[voice, end] >= 0:
            onsets[voice, end] = True
        mask[voice, start:end] = False
    return score.replace(pitches=pitches, onsets=onsets), mask
