"""Structured training crops: real boundaries marked, short pieces, metadata drop-out."""

from __future__ import annotations

import numpy as np
import torch

from engine.coconet.structure import PLANES, Structure
from engine.music.pianoroll import MODEL_LOW, SILENCE_CLASS
from engine.training.structured import (
    StructuredCropSampler,
    cadence_steps_of,
    framed_piece,
    structure_of,
)

P = {name: i for i, name in enumerate(PLANES)}


def piece(steps: int, start: int = 10) -> np.ndarray:
    return (start + np.arange(4 * steps) % 20).reshape(4, steps).astype(np.int64)


def full_structure(steps: int) -> Structure:
    return Structure(steps, (16, 4), 4, np.arange(steps) % 16 == 15, (7, False))


def test_crops_at_both_ends_mark_the_outside_frames_and_never_learn_them():
    steps, crop, edge = 40, 32, 16
    sampler = StructuredCropSampler([piece(steps)], [full_structure(steps)], crop, max_shift=0,
                                    edge=edge, drop=0.0)
    first = sampler.example(0, 0.0, (False, False, False))  # starts 16 frames before the piece
    classes, inside, cond, _ = first
    assert cond[P["outside"], :edge, 0].all() and not cond[P["outside"], edge:, 0].any()
    assert not inside[:edge].any() and inside[edge:].all()
    assert (classes[:, :edge] == SILENCE_CLASS).all()
    last = sampler.example(len(sampler) - 1, 0.0, (False, False, False))  # ends 16 frames after
    assert last[2][P["outside"], -edge:, 0].all() and not last[1][-edge:].any()
    middle = sampler.example(16, 0.0, (False, False, False))  # inside the piece: a plain crop
    assert not middle[2][P["outside"]].any() and middle[1].all()


def test_a_piece_shorter_than_a_crop_is_framed_by_outside_frames():
    sampler = StructuredCropSampler([piece(8)], [full_structure(8)], 64, max_shift=0, drop=0.0)
    classes, inside, cond, _ = sampler.example(0, 0.0, (False, False, False))
    assert inside.sum() == 8
    assert cond[P["outside"], ~inside, 0].all()  # everything else is outside the piece
    assert (classes[:, inside] == piece(8)).all()


def test_metadata_drop_out_hides_each_kind_independently():
    sampler = StructuredCropSampler([piece(64)], [full_structure(64)], 32, max_shift=0, drop=0.5)
    classes, inside, cond, _ = sampler.sample(400, torch.Generator().manual_seed(0))
    known = cond[:, [P["meter_known"], P["fermata_known"], P["key_known"]]].amax(dim=(2, 3))
    rates = 1 - known.float().mean(0)
    assert all(0.4 < float(r) < 0.6 for r in rates)  # each dropped about half the time
    both = (known[:, 0] == 0) & (known[:, 2] == 0)
    assert 0.15 < float(both.float().mean()) < 0.35  # independently of each other
    assert classes.shape == (400, 4, 32) and inside.shape == (400, 4, 32)


def test_the_key_moves_with_a_random_transposition():
    sampler = StructuredCropSampler([piece(64)], [full_structure(64)], 32, max_shift=6, drop=0.0)
    for u in (0.0, 0.5, 0.99):
        classes, _, cond, _ = sampler.example(16, u, (False, False, False))
        shift = int(classes[0, 0] - piece(64)[0, 0])  # crop 16 starts at the piece
        tonic_rows = np.flatnonzero(cond[P["tonic"], 0])
        assert all((MODEL_LOW + r) % 12 == (7 + shift) % 12 for r in tonic_rows)


def test_recovered_metadata_becomes_a_structure_and_unknown_stays_unknown():
    meta = {"time_signature": (3, 4), "pickup": 4, "key": "Dm",
            "fermatas": np.arange(20) == 19}
    s = structure_of(20, meta)
    assert s.meter == (12, 4) and s.pickup == 4 and s.key == (2, True)
    only_key = structure_of(20, {"time_signature": None, "pickup": None, "key": "F",
                                 "fermatas": None})
    assert only_key.meter is None and only_key.fermatas is None and only_key.key == (5, False)
    assert structure_of(20, None).key is None
    classes, inside, planes = framed_piece(piece(20), s)
    assert classes.shape[1] == 20 + 32 and inside.sum() == 20
    assert planes[P["outside"], ~inside, 0].all() and planes[P["meter_known"], inside].all()


def test_cadences_are_the_phrase_ends_and_the_final_chord_with_their_approach():
    notes = np.full((4, 24), 30, dtype=np.int64)
    notes[:, 8:] = 32          # a chord change at step 8 ...
    notes[:, 12:16] = 34       # ... a phrase ending on steps 12-15 (under a fermata)
    notes[:, 16:] = 36         # and the final chord from step 16 to the end
    notes[:, 20:] = 36
    fermatas = np.zeros(24, dtype=bool)
    fermatas[12:16] = True
    marks = cadence_steps_of(notes, fermatas, before=4)
    assert marks.tolist() == [False] * 8 + [True] * 16  # 8-11 lead into the fermata, 12-23 the end
    unknown = cadence_steps_of(notes, None, before=2)  # no fermatas known: the final chord only
    assert np.flatnonzero(unknown).tolist() == list(range(14, 24))


def test_a_crop_carries_the_cadence_marks_of_the_full_metadata_even_when_dropped():
    steps = 64
    sampler = StructuredCropSampler([piece(steps)], [full_structure(steps)], 32, max_shift=0,
                                    drop=0.0, cadence_before=2)
    expected = cadence_steps_of(piece(steps), full_structure(steps).fermatas, 2)
    _, _, cond, cadence = sampler.example(16, 0.0, (True, True, True))  # all hidden
    assert not cond[P["fermata_known"]].any()
    assert (cadence == expected[:32]).all() and cadence.any()
    *_, batch = sampler.sample(5, torch.Generator().manual_seed(1))
    assert batch.shape == (5, 4, 32) and batch.dtype == torch.bool


def test_the_weighted_loss_leans_toward_the_weighted_cells():
    from engine.coconet.masks import masked_nll

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 8, 10, generator=generator)
    classes = torch.randint(10, (2, 4, 8), generator=generator)
    mask = torch.ones(2, 4, 8, dtype=torch.bool)
    plain = masked_nll(logits, classes, mask)
    assert torch.allclose(masked_nll(logits, classes, mask, torch.ones(2, 4, 8)), plain)
    cells = torch.nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), classes, reduction="none")
    weights = torch.ones(2, 4, 8)
    weights[:, :, -2:] = 3.0
    expected = (cells * weights).sum((1, 2)) / weights.sum((1, 2))
    assert torch.allclose(masked_nll(logits, classes, mask, weights), expected)
