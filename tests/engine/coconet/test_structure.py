"""Structure planes and the structure-aware model input."""

from __future__ import annotations

import numpy as np
import torch

from engine.coconet.model import Coconet, CoconetConfig, with_cond_planes
from engine.coconet.structure import NUM_PLANES, PLANES, Structure, planes, structure_of_score
from engine.music.pianoroll import MODEL_LOW, NUM_CLASSES
from engine.music.score import Score

P = {name: i for i, name in enumerate(PLANES)}


def test_boundary_planes_mark_only_the_explicit_frames():
    out = planes(Structure(10), before=4, after=6, edge_before=2, edge_after=3)
    assert out.shape == (NUM_PLANES, 20, NUM_CLASSES)
    outside = out[P["outside"], :, 0]
    # 2 crop-padding frames, 2 outside, 10 inside, 3 outside, 3 crop padding.
    assert outside.tolist() == [0, 0, 1, 1] + [0] * 10 + [1, 1, 1, 0, 0, 0]
    assert not out[1:].any()  # nothing else is known


def test_metric_planes_follow_meter_and_pickup():
    s = Structure(20, meter=(12, 4), pickup=4)  # 3/4 with a one-beat pickup
    out = planes(s)
    assert np.flatnonzero(out[P["downbeat"], :, 0]).tolist() == [4, 16]
    assert np.flatnonzero(out[P["beat"], :, 0]).tolist() == [0, 4, 8, 12, 16]
    assert out[P["meter_known"]].all()


def test_key_planes_sit_on_the_pitch_axis_and_move_with_a_transposition():
    out = planes(Structure(4, key=(5, False)))  # F major
    tonic_rows = np.flatnonzero(out[P["tonic"], 0])
    assert all((MODEL_LOW + r) % 12 == 5 for r in tonic_rows) and len(tonic_rows) >= 3
    scale = {(MODEL_LOW + r) % 12 for r in np.flatnonzero(out[P["scale"], 0])}
    assert scale == {5, 7, 9, 10, 0, 2, 4}
    moved = planes(Structure(4, key=(5, False)), shift=2)
    assert {(MODEL_LOW + r) % 12 for r in np.flatnonzero(moved[P["tonic"], 0])} == {7}
    minor = planes(Structure(4, key=(9, True)))
    assert minor[P["minor"]].all()
    assert {(MODEL_LOW + r) % 12 for r in np.flatnonzero(minor[P["scale"], 0])} == {
        9, 11, 0, 2, 4, 5, 7, 8}


def test_dropped_metadata_is_unknown():
    s = Structure(8, meter=(16, 4), fermatas=np.eye(8, dtype=bool)[7], key=(0, False))
    out = planes(s.dropped(meter=True, key=True))
    assert not out[[P["downbeat"], P["beat"], P["meter_known"], P["tonic"], P["key_known"]]].any()
    assert out[P["fermata"], 7].all() and out[P["fermata_known"]].all()


def test_score_structure():
    score = Score.empty(32, time_signature=(3, 4), pickup=4, key="Bb",
                        fermatas=np.arange(32) == 27)
    s = structure_of_score(score)
    assert s.meter == (12, 4) and s.pickup == 4 and s.key == (10, False)
    assert np.flatnonzero(s.fermatas).tolist() == [27]
    assert structure_of_score(Score.empty(8)).fermatas is None


def test_grown_model_computes_what_the_plain_one_did():
    torch.manual_seed(0)
    plain = Coconet(CoconetConfig(depth=2, width=8, dilation=(1, 2))).eval()
    grown = with_cond_planes(plain, NUM_PLANES).eval()
    classes = torch.randint(0, NUM_CLASSES, (2, 4, 12))
    mask = torch.rand(2, 4, 12) < 0.5
    cond = torch.from_numpy(planes(Structure(12, meter=(16, 4), key=(2, True))))[None]
    with torch.no_grad():
        expected = plain(classes, mask)
        assert torch.allclose(grown(classes, mask, cond), expected, atol=1e-5)
        assert torch.allclose(grown(classes, mask), expected, atol=1e-5)  # unknown = zero planes
        fused = grown.fuse_for_inference()
        assert torch.allclose(fused(classes, mask, cond), expected, atol=1e-4)
    # Once the new weights move, the planes change the output.
    with torch.no_grad():
        grown.inp.weight[:, 8:] += 0.5
        assert not torch.allclose(grown(classes, mask, cond), expected, atol=1e-3)
