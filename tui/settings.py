"""Settings of a composing session: how the model samples and how the score sounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.coconet.defaults import (
    DEFAULT_MODEL,
    DEFAULT_REPAIR,
    MAX_REPAIR,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEMPERATURE,
    MAX_VARIANTS,
    MIN_TEMPERATURE,
    MODEL_NAMES,
)

# name: (type, lowest, highest); the form, the settings file and the command line obey the same
# limits (engine/coconet/defaults.py).
LIMITS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, MIN_TEMPERATURE, MAX_TEMPERATURE),
    "steps": (int, 1, MAX_STEPS),
    "variants": (int, 1, MAX_VARIANTS),
    "seed": (int, 0, MAX_SEED),
    "polish": (int, 0, MAX_STEPS),
    "repair": (int, 0, MAX_REPAIR),
}
TEXT = ("model", "soundfont", "sound_server", "chords", "midi_input", "midi_output")
SAVED = (*LIMITS, *TEXT)
"""The settings that outlive a session (written to the settings file)."""


def range_problem(name: str, value: float) -> str | None:
    """The message for a value outside `name`'s limits, or None when it fits."""
    _, low, high = LIMITS[name]
    if low <= value <= high:
        return None
    return f"{name} must be in range {low}..{high}; got {value}"


@dataclass
class Settings:
    temperature: float = 0.99
    """Sampling temperature (lower = safer choices)."""
    steps: int = 96
    """Gibbs steps per request."""
    variants: int = 4
    """Candidates generated at once."""
    seed: int = 0
    """First random seed; each request advances it so a new request gives new music."""
    polish: int = 24
    """Gibbs steps that polish an accompaniment."""
    repair: int = DEFAULT_REPAIR
    """Voice-leading repair rounds after sampling (0 = off; see engine/coconet/repair.py)."""
    model: str = DEFAULT_MODEL
    """The shipped model that writes: standard, or fast (a little quicker, weaker music)."""
    soundfont: str = ""
    """SoundFont file for playback (empty = the usual search order)."""
    chords: str = "free"
    """Harmonic rhythm: free, N chords a bar, beat or melody (engine/coconet/ties.py)."""
    sound_server: str = ""
    """PulseAudio server to play through, e.g. tcp:localhost:24713 (empty = $PULSE_SERVER, else here)."""
    midi_input: str = ""
    """MIDI keyboard: a MIDI input port, or any unique part of its name (empty = none)."""
    midi_output: str = ""
    """MIDI output port to play through instead of FluidSynth (empty = FluidSynth)."""
    on_applied: Callable[[Settings], None] | None = field(default=None, repr=False, compare=False)
    """Called after the form's values were applied (the app saves them then)."""
    _requests: int = 0

    def next_seed(self) -> int:
        seed = (self.seed + self._requests * 1000) % (MAX_SEED + 1)
        self._requests += 1
        return seed

    def saved_values(self) -> dict:
        """The settings that go into the settings file, by name: those that differ from the
        defaults, so a value the user never changed follows the defaults of later versions
        (as the repair rounds did when they went from 6 to 10)."""
        defaults = Settings()
        return {name: getattr(self, name) for name in SAVED
                if getattr(self, name) != getattr(defaults, name)}

    def update(self, values: dict[str, str]) -> list[str]:
        """Apply text values from the settings form; returns the problems (nothing changes then)."""
        problems: list[str] = []
        parsed: dict = {}
        for name, (kind, low, high) in LIMITS.items():
            if name not in values:
                continue
            try:
                value = kind(values[name])
            except ValueError:
                problems.append(f"{name} must be a number in range {low}..{high}")
                continue
            problem = range_problem(name, value)
            if problem:
                problems.append(problem)
            parsed[name] = value
        for name in TEXT:
            if name in values:
                parsed[name] = values[name].strip()
        if "chords" in parsed:
            parsed["chords"] = parsed["chords"].lower() or "free"
            problem = chords_problem(parsed["chords"])
            if problem:
                problems.append(problem)
        if "model" in parsed:
            parsed["model"] = parsed["model"].lower() or DEFAULT_MODEL
            problem = model_problem(parsed["model"])
            if problem:
                problems.append(problem)
        if problems:
            return problems
        for name, value in parsed.items():
            setattr(self, name, value)
        self._requests = 0
        if self.on_applied is not None:
            self.on_applied(self)
        return []


def chords_problem(value: str) -> str | None:
    """The message for a harmonic rhythm cantor does not know, or None."""
    from engine.coconet.ties import rhythm_problem

    problem = rhythm_problem(value)
    return None if problem is None else f"chords {problem}"


def model_problem(value: str) -> str | None:
    """The message for a model name cantor does not ship, or None."""
    if value in MODEL_NAMES:
        return None
    return f"model must be one of {', '.join(MODEL_NAMES)}; got {value!r}"


def soundfont_setting_problem(value: str) -> str | None:
    """The message for a SoundFont file that cannot be used, or None."""
    from pathlib import Path

    from engine.audio.soundfont import soundfont_problem

    path = Path(value).expanduser()
    problem = soundfont_problem(path)
    return None if problem is None else f"soundfont {path} {problem}"


def form_problems(values: dict[str, str]) -> list[str]:
    """Everything wrong in the settings form's text values (empty when they can be applied)."""
    checked = (*LIMITS, "chords", "model")
    problems = Settings().update({k: v for k, v in values.items() if k in checked})
    if values.get("soundfont", "").strip():
        problem = soundfont_setting_problem(values["soundfont"].strip())
        if problem:
            problems.append(problem)
    if "programs" in values:
        try:
            parse_programs(values["programs"])
        except ValueError as exc:
            problems.append(str(exc))
    if "tempo" in values:
        try:
            tempo = float(values["tempo"])
        except ValueError:
            tempo = None
        if tempo is None or not 10 <= tempo <= 400:
            problems.append("tempo must be a number in range 10..400 BPM")
    return problems


def parse_programs(text: str) -> tuple[int, ...]:
    """ "52, 52, 52, 32" -> four GM programs 0..127; raises ValueError with a plain message."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 127 for p in parts):
        raise ValueError("programs must be four GM numbers 0..127 (S A T B), e.g. 52 52 52 32")
    return tuple(int(p) for p in parts)
