"""Sound: SoundFont resolution, the FluidSynth synth, offline rendering to WAV and live playback,
and the tiny SoundFont cantor builds for itself. Seconds exist only in this package.

May import: numpy, pyfluidsynth and sounddevice (both lazily), `engine.music`. Never torch.
"""
