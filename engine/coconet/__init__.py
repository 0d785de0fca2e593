"""The Coconet model and everything that runs it: config + network (model.py), checkpoint I/O,
masks, metadata planes, samplers and their schedules, windowing, voice-leading repair, and the
`Composer` that the CLI and the composer call for harmonize / infill / compose.

May import: torch, numpy, `engine.music`, `engine.errors`, `engine.fileio`.
"""
