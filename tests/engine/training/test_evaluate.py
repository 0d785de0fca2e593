import math

import numpy as np
import pytest
import torch

from engine.coconet.masks import orderless_mask
from engine.coconet.model import Coconet, CoconetConfig
from engine.music.pianoroll import SILENCE_CLASS, to_classes
from engine.training.baseline import VoiceFrequencyBaseline
from engine.training.evaluate import orderless_nll, stratified_mask


def two_pieces():
    a = to_classes(np.array([[72, 72, 74, -1, 76], [67, 67, 65, 65, 64],
                             [64, 64, 62, 62, 60], [48, 48, 50, 50, 52]]))
    b = to_classes(np.array([[60, 62, 64], [55, 57, 59], [52, 53, 55], [36, 38, 40]]))
    return [a, b]


def direct(model, pieces, draws, seed, stratified=True):
    """The protocol spelled out one draw at a time: draws averaged per piece, then pieces averaged."""
    gen = torch.Generator().manual_seed(seed)
    piece_means, piece_means_all = [], []
    for piece in pieces:
        classes = torch.as_tensor(piece)
        masks = (stratified_mask if stratified else orderless_mask)(draws, piece.shape[1], gen)
        nonsilent, everything = [], []
        for mask in masks:
            with torch.no_grad():
                logp = torch.log_softmax(model(classes[None], mask[None])[0], -1)
            cells = [(v, t) for v in range(4) for t in range(piece.shape[1]) if mask[v, t]]
            nll = {c: -logp[c[0], c[1], piece[c]].item() for c in cells}
            sounding = [c for c in cells if piece[c] != SILENCE_CLASS]
            if sounding:
                nonsilent.append(sum(nll[c] for c in sounding) / len(sounding))
            everything.append(sum(nll.values()) / len(cells))
        piece_means.append(np.mean(nonsilent))
        piece_means_all.append(np.mean(everything))
    return np.mean(piece_means), np.mean(piece_means_all)


def test_evaluate_equals_direct_computation_for_a_coconet():
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8, dilation=(1, 2))).eval()
    pieces = two_pieces()
    result = orderless_nll(model, pieces, draws=5, seed=11, max_batch=2)
    nonsilent, everything = direct(model, pieces, 5, 11)
    assert result["pieces"] == 2 and result["draws"] == 5 and result["seed"] == 11
    assert result["nll_per_cell"] == pytest.approx(nonsilent, abs=1e-5)
    assert result["nll_per_cell_with_silence"] == pytest.approx(everything, abs=1e-5)
    again = orderless_nll(model, pieces, draws=5, seed=11)
    assert again["nll_per_cell"] == result["nll_per_cell"]  # same seed, same figure
    other = orderless_nll(model, pieces, draws=5, seed=12)
    assert other["nll_per_cell"] != result["nll_per_cell"]


def test_baseline_closed_form():
    pieces = two_pieces()
    model = VoiceFrequencyBaseline.fit(pieces, smoothing=0.0)
    # A voice that holds a single class everywhere has probability 1: no loss at all.
    constant = [np.full((4, 6), 10)]
    baseline = VoiceFrequencyBaseline.fit(constant, smoothing=0.0)
    assert orderless_nll(baseline, constant)["nll_per_cell"] == pytest.approx(0.0, abs=1e-6)
    result = orderless_nll(model, pieces, draws=3, seed=0)
    nonsilent, _ = direct(model, pieces, 3, 0)
    assert result["nll_per_cell"] == pytest.approx(nonsilent, abs=1e-6)
    # Soprano of piece b: each pitch once among the 8 soprano cells -> -log(1/8) if masked alone.
    probs = model.log_probs.exp()
    assert probs[0, piece_class(60)].item() == pytest.approx(1 / 8)
    assert -math.log(probs[0, piece_class(60)].item()) == pytest.approx(math.log(8))


def piece_class(pitch):
    return int(to_classes(np.array([pitch]))[0])


def test_eval_mode_is_restored_and_bad_draws():
    model = Coconet(CoconetConfig(depth=2, width=4)).train()
    orderless_nll(model, two_pieces(), draws=1)
    assert model.training
    with pytest.raises(ValueError):
        orderless_nll(model, two_pieces(), draws=0)


def test_stratified_mask_sizes_cover_the_range_evenly():
    gen = torch.Generator().manual_seed(3)
    masks = stratified_mask(8, 10, gen)  # D = 40 cells
    sizes = sorted(int(m.sum()) for m in masks)
    assert sizes == [int(m.sum()) for m in masks]  # drawn in increasing strata
    # Stratum k holds sizes in [k*D/K + 1, (k+1)*D/K]: one size in each fifth of the range.
    for k, size in enumerate(sizes):
        assert k * 5 + 1 <= size <= (k + 1) * 5
    # Over many pieces every size 1..D appears, as for uniform sizes.
    seen = {int(m.sum()) for _ in range(200) for m in stratified_mask(8, 10, gen)}
    assert seen == set(range(1, 41))


def test_unstratified_protocol_is_still_available():
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8)).eval()
    result = orderless_nll(model, two_pieces(), draws=4, seed=5, stratified=False)
    nonsilent, _ = direct(model, two_pieces(), 4, 5, stratified=False)
    assert result["nll_per_cell"] == pytest.approx(nonsilent, abs=1e-5)
    assert result["stratified"] is False
