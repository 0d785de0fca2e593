import math

import pytest
import torch

from engine.coconet.masks import bernoulli_mask, make_mask, masked_nll, orderless_mask


def test_orderless_mask_counts_cover_one_to_all_cells():
    gen = torch.Generator().manual_seed(0)
    masks = orderless_mask(4000, 2, gen)
    assert masks.shape == (4000, 4, 2) and masks.dtype == torch.bool
    counts = masks.sum(dim=(1, 2))
    assert counts.min() == 1 and counts.max() == 8
    assert set(counts.tolist()) == set(range(1, 9))
    # Uniform count: each of the 8 values about 1/8 of the draws.
    freq = torch.bincount(counts, minlength=9)[1:].float() / 4000
    assert (freq - 1 / 8).abs().max() < 0.03


def test_orderless_mask_cells_are_uniform_and_seeded():
    a = orderless_mask(3000, 3, torch.Generator().manual_seed(5))
    b = orderless_mask(3000, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    per_cell = a.float().mean(dim=0)  # E[m]/12 = 6.5/12 for every cell
    assert (per_cell - 6.5 / 12).abs().max() < 0.04


def test_bernoulli_mask_extremes_and_bad_p():
    assert not bernoulli_mask(3, 5, 0.0).any()
    assert bernoulli_mask(3, 5, 1.0).all()
    with pytest.raises(ValueError):
        bernoulli_mask(1, 1, 1.5)
    with pytest.raises(ValueError):
        make_mask("striped", 1, 4)
    assert make_mask("bernoulli", 2, 3).shape == (2, 4, 3)


def test_masked_nll_hand_computed():
    # Two classes; logits (0, log 3) give p = (1/4, 3/4).
    logits = torch.zeros(2, 4, 1, 2)
    logits[..., 1] = math.log(3)
    classes = torch.zeros(2, 4, 1, dtype=torch.long)
    classes[0, 1, 0] = 1
    mask = torch.zeros(2, 4, 1, dtype=torch.bool)
    mask[0, 0, 0] = mask[0, 1, 0] = True  # example 0: one class-0 and one class-1 cell
    mask[1, 2, 0] = True  # example 1: one class-0 cell
    loss = masked_nll(logits, classes, mask)
    expected0 = (-math.log(1 / 4) - math.log(3 / 4)) / 2
    assert loss[0].item() == pytest.approx(expected0, abs=1e-6)
    assert loss[1].item() == pytest.approx(-math.log(1 / 4), abs=1e-6)


def test_masked_nll_ignores_unmasked_cells_and_empty_masks():
    logits = torch.randn(1, 4, 3, 5)
    classes = torch.randint(0, 5, (1, 4, 3))
    mask = torch.zeros(1, 4, 3, dtype=torch.bool)
    assert masked_nll(logits, classes, mask).item() == 0.0
    mask[0, 0, 0] = True
    changed = logits.clone()
    changed[0, 1:, :, :] += 10 * torch.randn(3, 3, 5)  # unmasked cells only
    assert torch.allclose(masked_nll(logits, classes, mask), masked_nll(changed, classes, mask))
