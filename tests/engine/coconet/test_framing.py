"""Generation with a structure-aware model: the frame, what it is told, and that it uses it."""

import dataclasses

import numpy as np
import pytest
import torch

from engine.coconet.composer import Composer
from engine.coconet.framing import conditioning, edge_of, frame, structure_for
from engine.coconet.masks import masked_nll, orderless_mask
from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.structure import EDGE, NUM_PLANES, PLANES, Structure
from engine.music.keys import parse_key
from engine.music.pianoroll import to_classes
from engine.music.score import Score
from engine.training.structured import StructuredCropSampler
from tests.engine.coconet.test_composer_window import chorale, same_variants

PLANE = {name: i for i, name in enumerate(PLANES)}


def structured_net(seed: int = 0, **changes) -> Coconet:
    torch.manual_seed(seed)
    config = CoconetConfig(depth=4, width=8, dilation=(1, 2), cond_planes=NUM_PLANES)
    return Coconet(dataclasses.replace(config, **changes)).eval()


def melody(pitches_and_lengths, **meta) -> Score:
    soprano = np.concatenate([[p] * n for p, n in pitches_and_lengths]).astype(np.int16)
    pitches = np.full((4, soprano.size), -1, dtype=np.int16)
    pitches[0] = soprano
    return Score(pitches, **meta)


def test_the_frame_keeps_bar_positions_fermatas_and_generates_nothing_outside():
    for ts, pickup in (((4, 4), 0), ((3, 4), 4), ((6, 4), 20), ((2, 4), 3)):
        score = chorale(3, time_signature=ts, pickup=pickup)
        score = score.replace(fermatas=np.arange(score.num_steps) >= score.num_steps - 4)
        mask = np.ones(score.pitches.shape, dtype=bool)
        framed, framed_mask = frame(score, mask, EDGE)
        assert framed.num_steps == score.num_steps + 2 * EDGE
        assert (framed.pitches[:, :EDGE] == -1).all() and (framed.pitches[:, -EDGE:] == -1).all()
        assert np.array_equal(framed.pitches[:, EDGE:-EDGE], score.pitches)
        assert not framed_mask[:, :EDGE].any() and not framed_mask[:, -EDGE:].any()
        assert framed_mask[:, EDGE:-EDGE].all()
        for step in (0, 5, score.num_steps - 1):
            assert framed.location(step + EDGE)[1] == score.location(step)[1]
        assert np.array_equal(framed.phrase_ends()[EDGE:-EDGE], score.fermatas)
    assert frame(score, mask, 0) == (score, mask)


def test_the_model_is_told_the_scores_own_fermatas_and_key():
    score = chorale(4).replace(key="Dm", fermatas=np.arange(64) % 32 >= 28)
    alto = np.zeros((4, 64), dtype=bool)
    alto[1] = True
    told = structure_for(score, alto)
    assert told.meter == (16, 4) and told.pickup == 0
    assert np.array_equal(told.fermatas, score.fermatas)
    assert told.key == parse_key("Dm")


def test_without_marks_the_model_is_told_the_guess_from_the_kept_melody():
    # G major: a long G at the end of bar 2 and at the end, over an empty bar that is to be written.
    tune = melody([(67, 4), (71, 4), (74, 4), (72, 4), (71, 4), (69, 4), (67, 8),
                   (74, 4), (72, 4), (71, 4), (69, 4), (66, 4), (69, 4), (67, 8)])
    harmonize = np.ones((4, tune.num_steps), dtype=bool)
    harmonize[0] = False
    told = structure_for(tune, harmonize)
    assert told.key == parse_key("G")
    assert told.fermatas[24:32].all() and told.fermatas[56:64].all() and not told.fermatas[:24].any()
    everything = np.ones((4, tune.num_steps), dtype=bool)  # the melody itself is rewritten
    assert structure_for(tune, everything).fermatas is None
    assert structure_for(tune, everything).key is None


def test_the_planes_mark_the_real_start_and_end_and_the_kept_notes_decide_the_key():
    tune = melody([(60, 4), (64, 4), (67, 4), (72, 4), (67, 4), (64, 4), (60, 8)])
    mask = np.ones((4, tune.num_steps), dtype=bool)
    mask[0] = False
    cond = conditioning(tune, mask, EDGE)
    assert cond.shape == (1, NUM_PLANES, tune.num_steps + 2 * EDGE, CoconetConfig().num_classes)
    outside = cond[0, PLANE["outside"], :, 0]
    assert outside[:EDGE].eq(1).all() and outside[-EDGE:].eq(1).all()
    assert outside[EDGE:-EDGE].eq(0).all()
    assert cond[0, PLANE["key_known"], EDGE:-EDGE].eq(1).all()
    assert cond[0, PLANE["minor"]].eq(0).all()
    assert cond[0, PLANE["downbeat"], EDGE, 0] == 1 and cond[0, PLANE["downbeat"], EDGE + 4, 0] == 0
    assert conditioning(tune, mask, 0) is None


@pytest.fixture(scope="module")
def structured_pair():
    net = structured_net()
    return (Composer(model=net, threads=1, precision="fp32"),
            Composer(model=net, threads=1, precision="fp32", window=False))


def test_a_structure_aware_model_harmonizes_in_the_callers_frame(structured_pair):
    composer = structured_pair[0]
    assert edge_of(composer.model) == EDGE and edge_of(structured_net(cond_planes=0)) == 0
    score = chorale(4, time_signature=(3, 4), pickup=4).replace(key="F")
    seen = []
    result = composer.harmonize(score, keep=(0,), variants=2, steps=8, seed=1, repair=2,
                                progress=seen.append, want_confidence=True)
    assert len(result.variants) == 2
    for variant in result.variants:
        assert variant.score.num_steps == score.num_steps
        assert variant.score.meta() == score.meta()
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
        assert np.isfinite(variant.nll)
    assert seen and all(p.pitches.shape == (2, 4, score.num_steps) for p in seen)
    assert all(p.changed.shape == p.confidence.shape == p.pitches.shape for p in seen)
    assert composer.confidence(score).shape == (4, score.num_steps)
    part = composer.confidence(score, steps=(8, 20))
    assert np.allclose(part, composer.confidence(score)[:, 8:20], atol=1e-4)
    assert np.isfinite(composer.nll(score, np.ones(score.pitches.shape, dtype=bool)))


@pytest.mark.parametrize("bars, voices", [((1, 1), (1, 2)), ((4, 4), (3,)), ((2, 3), (0, 1, 2, 3))])
def test_a_structure_aware_window_equals_the_whole_framed_piece(structured_pair, bars, voices):
    score = chorale(8).replace(key="C")
    mask = score.region_mask(*score.bar_range(*bars), voices)
    windowed, whole = (c.infill(score, mask, variants=2, steps=6, seed=5, repair=2)
                       for c in structured_pair)
    same_variants(windowed, whole)


def test_the_planes_change_what_the_model_writes(structured_pair):
    composer = structured_pair[1]
    score = chorale(2)
    mask = np.ones(score.pitches.shape, dtype=bool)
    mask[0] = False
    major = composer.nll(score.replace(key="C"), mask)
    minor = composer.nll(score.replace(key="F#m"), mask)
    assert major != pytest.approx(minor, abs=1e-6)


# --- a tiny model learns to end on a chord when the end is marked ---------------------------------

# Close chords (the tiny net sees about a dozen pitch rows around a cell), C major given as the key so
# the model knows absolute pitch. END is only ever the last chord.
END = (67, 64, 60, 55)
OTHERS = [(67, 62, 59, 55), (65, 60, 57, 53), (69, 64, 60, 57), (65, 62, 57, 53)]


def toy_piece(rng, quarters: int) -> np.ndarray:
    chords = [OTHERS[i] for i in rng.integers(0, len(OTHERS), quarters - 1)] + [END]
    pitches = np.repeat(np.array(chords, dtype=np.int16).T, 4, axis=1)
    return to_classes(pitches)


def test_a_tiny_model_learns_to_end_on_a_given_chord_when_the_end_is_marked():
    rng = np.random.default_rng(0)
    pieces = [toy_piece(rng, int(q)) for q in rng.integers(6, 12, 64)]
    structures = [Structure(p.shape[1], (16, 4), 0, key=(0, False)) for p in pieces]
    sampler = StructuredCropSampler(pieces, structures, crop=32, max_shift=0, drop=0.0)
    torch.manual_seed(0)
    net = Coconet(CoconetConfig(depth=6, width=16, dilation=(1, 2, 4), dilate_pitch=True,
                                cond_planes=NUM_PLANES))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(TOY_STEPS):
        classes, inside, cond, _ = sampler.sample(8, generator)
        mask = orderless_mask(8, 32, generator) & inside
        loss = masked_nll(net(classes, mask, cond), classes, mask).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    composer = Composer(model=net.eval(), threads=1, precision="fp32")
    blank = Score.empty(48, key="C")
    result = composer.infill(blank, np.ones(blank.pitches.shape, dtype=bool), variants=8, steps=64,
                             seed=0, patience=None)
    last = [tuple(int(v.score.pitches[k, -1]) for k in range(4)) for v in result.variants]
    inner = [tuple(int(v.score.pitches[k, s]) for k in range(4))
             for v in result.variants for s in range(2, 40, 4)]
    assert sum(chord == END for chord in last) >= 6, last
    assert sum(chord == END for chord in inner) <= len(inner) // 8, inner


TOY_STEPS = 240
