"""Music without a model: `Score` and its pure operations, MIDI in/out (voices, pickup), MusicXML,
the counterpoint rules, the model's pitch view (pianoroll), key and phrase-end estimation.

May import: numpy, mido, music21 (lazily), `engine.errors`, `engine.fileio`. Never torch, and nothing
of the other engine packages: everything above builds on this one.
"""
