"""The accompaniment predictor: VAE + melody-only surrogate encoder (model.py), the one-pass draft,
variations and interpolation (predict.py, interpolate.py), and the melody/bass/drums trio layout.

May import: torch, numpy, `engine.music`, `engine.coconet` (the Gibbs polish and repair).
"""
