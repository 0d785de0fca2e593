"""No rests under a sounding melody: the rule, and a model that would rather rest."""

import numpy as np
import torch

from engine.coconet.composer import Composer
from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.rests import rest_forbidden
from engine.music.pianoroll import SILENCE_CLASS
from engine.music.score import Score


class RatherRest(torch.nn.Module):
    """A tiny Coconet that puts most of its probability on silence everywhere."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = Coconet(CoconetConfig(depth=2, width=8))
        self.config = self.net.config

    def forward(self, classes, mask, cond=None):
        logits = self.net(classes, mask)
        logits[..., SILENCE_CLASS] += 30.0
        return logits


def melody_with_a_rest() -> Score:
    soprano = np.array([72] * 8 + [-1] * 8 + [74] * 8 + [72] * 8, dtype=np.int16)
    pitches = np.full((4, 32), -1, dtype=np.int16)
    pitches[0] = soprano
    return Score(pitches)


def test_the_rule_forbids_rests_where_kept_notes_sound_and_only_in_generated_cells():
    pitches = np.full((4, 6), -1)
    pitches[0, :2] = 72  # the melody sounds at steps 0-1
    pitches[3, 4] = 40  # a kept bass note at step 4
    mask = np.zeros((4, 6), dtype=bool)
    mask[1:3] = True  # alto and tenor are generated
    mask[3, :4] = True  # the bass at steps 0-3 too
    forbidden = rest_forbidden(pitches, mask)
    expected = np.zeros((4, 6), dtype=bool)
    expected[1:3, [0, 1, 4]] = True
    expected[3, [0, 1]] = True
    assert np.array_equal(forbidden, expected)


def test_a_model_that_would_rather_rest_writes_notes_under_the_melody():
    composer = Composer(model=RatherRest().eval(), threads=1, precision="fp32")
    score = melody_with_a_rest()
    for repair in (0, 2):
        result = composer.harmonize(score, keep=(0,), variants=2, steps=6, seed=1, repair=repair)
        for variant in result.variants:
            lower = variant.score.pitches[1:]
            sounding = score.pitches[0] >= 0
            assert (lower[:, sounding] >= 0).all()  # never silent under the melody
            assert (lower[:, ~sounding] < 0).all()  # where the melody rests, the model's choice holds
            assert np.isfinite(variant.nll)


def test_silence_the_user_keeps_stays_silent():
    composer = Composer(model=RatherRest().eval(), threads=1, precision="fp32")
    score = melody_with_a_rest()
    mask = np.zeros((4, 32), dtype=bool)
    mask[2:] = True  # the alto's empty lane is kept: erased to silence on purpose
    variant = composer.infill(score, mask, variants=1, steps=4, seed=0).variants[0]
    assert (variant.score.pitches[1] < 0).all()
    assert (variant.score.pitches[2:, score.pitches[0] >= 0] >= 0).all()
