"""Defaults and limits of generation, shared by the CLI, the composer and the engine.

No imports: the command line reads these before it loads numpy or torch.
"""

SAMPLERS = ("gibbs", "ancestral")
MAX_VARIANTS = 64
MAX_STEPS = 10_000
MAX_BARS = 512
MAX_REPAIR = 256
# Voice-leading repair rounds the command line and the editor use unless told otherwise (chosen by
# measurement: README, harmonization quality and "Phrase ends from a bare melody"). With the learned
# phrase-end guess, 6 rounds left 2.78 findings per 100 quarters on bare melodies where the rule's
# guess had left 1.79; 10 rounds leave 1.54. `Composer` itself defaults to 0 (plain Gibbs).
DEFAULT_REPAIR = 10
# A Gibbs variant stops after this many passes in a row that changed none of its cells: late passes
# resample a tenth of the cells and mostly redraw what is there (measured: README, fast path).
PATIENCE = 8
# Gibbs passes of one repair proposal (engine/coconet/repair.py).
REPAIR_PASSES = 24
# A variant leaves the repair after this many rejected proposals in a row (None: never). Off:
# M = 2 saved an eighth of the time for 1.5x the findings (README, harmonization quality).
REPAIR_MISSES = None
# Limits the command line and the composer's settings form both enforce.
MAX_SEED = 2**32 - 1  # variant seeds S+k-1 stay far inside what torch's generators take


def variant_seeds(seed: int, variants: int) -> list[int]:
    """The seeds of `variants` variants from `seed`: S, S+1, ..., wrapping past MAX_SEED to 0, so
    every seed a command reports can be given back to --seed."""
    return [(int(seed) + k) % (MAX_SEED + 1) for k in range(int(variants))]
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 10.0
# The shipped Coconet models by name (engine/coconet/loading.py has their files): "fast" takes about
# half the time a pass where the net runs in fp32 (a whole request about 0.8x: the standard model's
# repair proposals come from the fast net there already) and writes slightly weaker music.
MODEL_NAMES = ("standard", "fast")
DEFAULT_MODEL = "standard"
