"""Training and measuring models: data sets (JSB-16th, music21 chorales, trio folders), the
Coconet and accompaniment trainers and their shared set-up, the orderless-NLL evaluation, baselines.

May import: everything in `engine` below it (music, coconet, accompany). Nothing imports it but
`commands/`, `engine.benchmarks` and the tests.
"""
