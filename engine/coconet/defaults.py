"""Defaults and limits of generation, shared by the CLI, the composer and the engine.

No imports: the command line reads these before it loads numpy or torch.
"""

SAMPLERS = ("gibbs", "ancestral")
MAX_VARIANTS = 64
MAX_STEPS = 10_000
MAX_BARS = 512
MAX_REPAIR = 256
# Voice-leading repair rounds the command line and the editor use unless told otherwise (chosen by
# measurement: README, harmonization quality); `Composer` itself defaults to 0 (plain Gibbs).
DEFAULT_REPAIR = 8
