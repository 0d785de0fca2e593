"""Structure planes: what the model is told besides the notes (DESIGN.md, "Structure").

Extra input planes over the model's (time, pitch) image, each 0/1:

    outside   time   1 on explicit frames beyond the piece's real start or end (not on crop padding)
    downbeat  time   1 on the first step of each bar            } meter known
    beat      time   1 on the first step of each beat           }
    meter?    time   1 everywhere when the meter is known
    fermata   time   1 on steps under a fermata (a phrase end)  } fermatas known
    fermata?  time   1 everywhere when the fermatas are known
    tonic     pitch  1 on the pitch rows of the key's tonic     } key known
    scale     pitch  1 on the pitch rows of the key's scale (minor: natural minor + raised 7th)
    minor     time   1 everywhere when the key is minor
    key?      time   1 everywhere when the key is known

Unknown metadata is all-zero planes (the model is trained with random drop-out of each kind). Key planes
live on the pitch axis, so transposing the notes transposes the key with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.music.keys import parse_key
from engine.music.pianoroll import MODEL_LOW, NUM_CLASSES, NUM_PITCHES

PLANES = ("outside", "downbeat", "beat", "meter_known", "fermata", "fermata_known",
          "tonic", "scale", "minor", "key_known")
NUM_PLANES = len(PLANES)
EDGE = 16  # explicit "outside" frames put before and after a whole piece at generation
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)
_PITCH_CLASS = (MODEL_LOW + np.arange(NUM_PITCHES)) % 12


@dataclass
class Structure:
    """Per-step metadata of a stretch of music (inside the piece); None = unknown."""

    steps: int
    meter: tuple[int, int] | None = None  # (steps per bar, steps per beat)
    pickup: int = 0
    fermatas: np.ndarray | None = None  # bool (steps,)
    key: tuple[int, bool] | None = None  # (tonic pitch class, minor)

    def dropped(self, meter: bool = False, fermatas: bool = False, key: bool = False) -> Structure:
        """A copy with some kinds of metadata made unknown."""
        return Structure(self.steps, None if meter else self.meter, self.pickup,
                         None if fermatas else self.fermatas, None if key else self.key)


def structure_of_score(score) -> Structure:
    """What a Score says of itself: its meter and pickup always, fermatas and key when it has them."""
    return Structure(score.num_steps, (score.steps_per_bar, score.steps_per_beat), score.pickup,
                     None if score.fermatas is None else np.asarray(score.fermatas, dtype=bool),
                     parse_key(score.key))


def planes(structure: Structure, before: int = 0, after: int = 0, shift: int = 0,
           edge_before: int | None = None, edge_after: int | None = None) -> np.ndarray:
    """(NUM_PLANES, before + steps + after, NUM_CLASSES) float32 planes.

    `before`/`after` frames are added around the music; the `edge_*` of them next to the music (all, by
    default) are marked outside the piece, the rest are left as crop padding (all planes 0). `shift`
    transposes the key (the caller transposed the notes by as many semitones).
    """
    s = structure
    edge_before = before if edge_before is None else edge_before
    edge_after = after if edge_after is None else edge_after
    length = before + s.steps + after
    out = np.zeros((NUM_PLANES, length, NUM_CLASSES), dtype=np.float32)
    inside = slice(before, before + s.steps)
    out[0, before - edge_before:before] = 1
    out[0, before + s.steps:before + s.steps + edge_after] = 1
    if s.meter is not None:
        bar, beat = s.meter
        position = (np.arange(s.steps) - s.pickup) % bar
        out[1, inside] = (position == 0)[:, None]
        out[2, inside] = (position % beat == 0)[:, None]
        out[3, inside] = 1
    if s.fermatas is not None:
        out[4, inside] = np.asarray(s.fermatas, dtype=np.float32)[:, None]
        out[5, inside] = 1
    if s.key is not None:
        tonic, minor = (s.key[0] + shift) % 12, s.key[1]
        degrees = (_PITCH_CLASS - tonic) % 12
        out[6, inside, :NUM_PITCHES] = (degrees == 0)[None, :]
        out[7, inside, :NUM_PITCHES] = np.isin(degrees, MINOR_SCALE if minor else MAJOR_SCALE)[None]
        out[8, inside] = float(minor)
        out[9, inside] = 1
    return out
