"""Validation figures of the accompaniment VAE and surrogate, on fixed segments."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _accompaniment_accuracy(logits, segments) -> tuple[int, int]:
    """(correct, total) cells of the accompaniment tracks (1..) under argmax decoding."""
    correct = total = 0
    for i in range(1, segments.shape[1]):
        correct += int((logits[i].argmax(1) == segments[:, i]).sum())
        total += segments[:, i].numel()
    return correct, total


@torch.no_grad()
def vae_metrics(vae, segments: torch.Tensor, chunk: int = 256) -> dict:
    """Reconstruction accuracy and NLL (decoding z = mu), KL per segment, active latent dims."""
    vae.eval()
    correct = total = 0
    nll = kl = 0.0
    mus = []
    for start in range(0, len(segments), chunk):
        batch = segments[start : start + chunk]
        mu, logvar = vae.encode(batch)
        logits = vae.decode(mu, batch[:, 0])
        c, t = _accompaniment_accuracy(logits, batch)
        correct, total = correct + c, total + t
        for i in range(1, batch.shape[1]):
            nll += float(F.cross_entropy(logits[i], batch[:, i], reduction="sum"))
        kl += float((0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum())
        mus.append(mu)
    n = max(1, len(segments))
    mu_all = torch.cat(mus) if mus else torch.zeros(1, 1)
    return {
        "vae_recon_accuracy": correct / max(1, total),
        "vae_recon_nll_per_cell": nll / max(1, total),
        "vae_kl_nats": kl / n,
        "vae_active_dims": int((mu_all.var(0) > 0.01).sum()) if len(mu_all) > 1 else 0,
    }


@torch.no_grad()
def surrogate_metrics(vae, surrogate, segments, mean_mu, chunk: int = 256):
    """Surrogate MSE against mu, the predict-the-mean baseline, draft accuracy; and the
    per-dimension spread of z given the melody (residual + posterior variance) for variants."""
    vae.eval()
    surrogate.eval()
    sq = sq_base = 0.0
    resid = post = None
    correct = total = base_correct = 0
    count = 0
    for start in range(0, len(segments), chunk):
        batch = segments[start : start + chunk]
        mu, logvar = vae.encode(batch)
        guess = surrogate(batch[:, 0])
        err = (guess - mu).pow(2)
        sq += float(err.sum())
        sq_base += float((mean_mu - mu).pow(2).sum())
        resid = err.sum(0) if resid is None else resid + err.sum(0)
        post = logvar.exp().sum(0) if post is None else post + logvar.exp().sum(0)
        c, t = _accompaniment_accuracy(vae.decode(guess, batch[:, 0]), batch)
        correct, total = correct + c, total + t
        base = mean_mu.expand_as(mu)
        base_correct += _accompaniment_accuracy(vae.decode(base, batch[:, 0]), batch)[0]
        count += len(batch)
    cells = max(1, count * vae.config.latent)
    sigma = ((resid + post) / max(1, count)).sqrt().tolist() if count else [1.0] * vae.config.latent
    metrics = {
        "surrogate_mse": sq / cells,
        "surrogate_mse_mean_baseline": sq_base / cells,
        "draft_accuracy": correct / max(1, total),
        "draft_accuracy_mean_code": base_correct / max(1, total),
    }
    return metrics, sigma
