"""What `cantor train coconet` trains with: presets, the training settings, and their checks.

A --config is a preset name or a JSON object of CoconetConfig and TrainSettings fields; every value
is checked (type and range) before any data loads, and a resumed run may change only settings that
leave its network and its validation as they were.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from engine.coconet.model import CoconetConfig
from engine.errors import CantorError

PRESETS: dict[str, dict] = {
    "straight16x64": {"depth": 16, "width": 64},
    "straight32x64": {"depth": 32, "width": 64},
    "dilated16x64": {"depth": 16, "width": 64, "dilation": [1, 2, 4, 8]},
    "dilated32x64": {"depth": 32, "width": 64, "dilation": [1, 2, 4, 8, 16]},
    "separable32x128": {"depth": 32, "width": 128, "separable": True,
                        "dilation": [1, 2, 4, 8, 16]},
    "dilated16x32": {"depth": 16, "width": 32, "dilation": [1, 2, 4, 8]},
    "dilated24x48": {"depth": 24, "width": 48, "dilation": [1, 2, 4, 8, 16, 1]},
    "tiny": {"depth": 2, "width": 8, "crop": 16, "batch_size": 4, "val_draws": 1},
}
DEFAULT_PRESET = "straight16x64"


@dataclass
class TrainSettings:
    """How to train (the network's shape is a CoconetConfig)."""

    batch_size: int = 8
    """Examples per step and per process."""
    lr: float = 2e-3
    """Peak Adam learning rate."""
    crop: int = 32
    """Length of the random training crops, in 16th steps."""
    max_shift: int = 6
    """Largest random transposition, in semitones (always kept within the model's range)."""
    mask: str = "orderless"
    """Training mask distribution: orderless or bernoulli."""
    warmup_steps: int = 50
    """Steps of linear learning-rate warm-up."""
    final_lr_fraction: float = 0.05
    """The cosine decay ends at lr times this."""
    bf16: bool = True
    """bfloat16 autocast for the convolutions (about twice as fast on CPUs with AVX-512 BF16)."""
    val_every_minutes: float = 4.0
    """Validate (and save) at least this often."""
    val_draws: int = 1
    """Masks per valid piece in the periodic validation."""
    val_seed: int = 1234
    """Seed of the validation masks (fixed, so validations are comparable)."""
    val_pieces: int = 32
    """Validate on the first N valid pieces (0 = all); `cantor evaluate` scores whole splits."""
    grad_clip: float = 10.0
    """Gradient norm clipping (a guard against rare spikes)."""
    structure: bool = False
    """Train with piece boundaries, metric position, fermatas and key (needs cond_planes and jsb16 data)."""
    drop_meta: float = 0.3
    """Chance that each kind of metadata (meter, fermatas, key) is hidden from a training crop."""
    ema: float = 0.0
    """Decay of the exponential moving average of the weights that is validated and saved (0 = off)."""
    schedule_minutes: float = 0.0
    """Length of one cosine schedule over all resumed sessions (0 = one cosine per session)."""
    cadence_weight: float = 1.0
    """Loss weight of the cells at cadences (structure runs: phrase ends under fermatas and a piece's
    final chord, with the `cadence_steps` before each) against 1 for the others; 1 = Coconet's loss."""
    cadence_steps: int = 8
    """Steps before a phrase end or the final chord that belong to its cadence (8 = two beats)."""
    init_layers: tuple[int, ...] = ()
    """With --init from a deeper net: the checkpoint's hidden layers to keep, in order (one index
    per layer of this net; its input and output convolutions are kept too). Empty = the same depth."""
    teacher: str = ""
    """Distillation: a Coconet checkpoint whose predictions this net learns. The loss is then the
    cross-entropy to the teacher's distribution on the masked cells instead of to the notes."""


PROBE_BATCHES = 16  # batches a pruned --init measures its channels on


class TrainError(CantorError):
    """Training cannot start or continue (bad options, nothing to resume, ...)."""


def config_values(text: str) -> dict:
    """The fields a --config names: a preset, or a JSON object (optionally {"preset": ..., ...})."""
    if text in PRESETS:
        values = dict(PRESETS[text])
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrainError(f"--config must be a preset ({', '.join(PRESETS)}) or a JSON object"
                             ) from exc
        if not isinstance(values, dict):
            raise TrainError("--config JSON must be an object such as {\"depth\": 16}")
        base = values.pop("preset", None)
        if base is not None:
            if base not in PRESETS:
                raise TrainError(f"unknown preset {base!r}: choose one of {', '.join(PRESETS)}")
            values = {**PRESETS[base], **values}
    return values


def parse_config(text: str | None) -> tuple[CoconetConfig, dict]:
    """A preset name or a JSON object of CoconetConfig and TrainSettings fields."""
    values = config_values(text or DEFAULT_PRESET)
    model_keys = {f.name for f in fields(CoconetConfig)}
    train_keys = {f.name for f in fields(TrainSettings)}
    unknown = sorted(set(values) - model_keys - train_keys)
    if unknown:
        raise TrainError(f"unknown config key {unknown[0]!r}")
    model_values = {k: v for k, v in values.items() if k in model_keys}
    from engine.coconet.validate import check_coconet_config
    from engine.errors import CheckpointError

    try:
        check_coconet_config(model_values, "--config")
        config = CoconetConfig(**model_values)
    except CheckpointError as exc:
        raise TrainError(str(exc).replace("--config is not a usable checkpoint: ", "--config: ")
                         ) from None
    except (TypeError, ValueError) as exc:
        raise TrainError(f"bad model config: {exc}") from exc
    train = {k: v for k, v in values.items() if k in train_keys}
    check_settings(train)
    return config, train


# Training settings that must lie in a range: (lowest, highest, lowest allowed itself).
SETTING_RANGES = {
    "batch_size": (1, None, True), "lr": (0, None, False), "crop": (1, None, True),
    "max_shift": (0, 24, True), "warmup_steps": (0, None, True),
    "final_lr_fraction": (0, 1, True), "val_every_minutes": (0, None, True),
    "val_draws": (1, None, True), "val_pieces": (0, None, True), "grad_clip": (0, None, False),
    "drop_meta": (0, 1, True), "ema": (0, 1, True), "schedule_minutes": (0, None, True),
    "cadence_weight": (0, None, False), "cadence_steps": (0, None, True),
}


def check_settings(values: dict) -> None:
    """Refuse a training setting of the wrong type or outside its range (before any data loads):
    a negative grad_clip flips the gradients, a negative lr fraction climbs the loss."""
    kinds = {f.name: f.type for f in fields(TrainSettings)}
    for key, value in values.items():
        kind = kinds.get(key)
        if kind in ("int", "float"):
            ok = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok or not math.isfinite(value):
                raise TrainError(f"config {key} must be {'a whole number' if kind == 'int' else 'a number'};"
                                 f" got {value!r}")
        elif kind == "bool" and not isinstance(value, bool):
            raise TrainError(f"config {key} must be true or false; got {value!r}")
        elif kind == "str" and not isinstance(value, str):
            raise TrainError(f"config {key} must be a string; got {value!r}")
        elif key == "init_layers" and (not isinstance(value, (list, tuple)) or any(
                isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in value)):
            raise TrainError(f"config init_layers must be a list of layer numbers; got {value!r}")
        if key in SETTING_RANGES:
            low, high, closed = SETTING_RANGES[key]
            if (value < low if closed else value <= low) or (high is not None and value > high):
                bound = f"{'at least' if closed else 'more than'} {low}" + (
                    f" and at most {high}" if high is not None else "")
                raise TrainError(f"config {key} must be {bound}; got {value!r}")
    if values.get("mask", "orderless") not in ("orderless", "bernoulli"):
        raise TrainError(f"config mask must be orderless or bernoulli; got {values['mask']!r}")


def resumed_overrides(text: str | None, config: CoconetConfig) -> dict:
    """Training settings a `--resume --config` changes (crop, batch, lr...); the net's shape is fixed.

    A resumed run keeps its network, so a model key is accepted only with the value it already has.
    """
    if not text:
        return {}
    values = config_values(text)
    model = json.loads(json.dumps(asdict(config)))
    train_keys = {f.name for f in fields(TrainSettings)}
    for key, value in values.items():
        if key in model:
            if model[key] != value:
                raise TrainError(f"a resumed run keeps its network: {key} is {model[key]!r}, "
                                 f"not {value!r}")
        elif key not in train_keys:
            raise TrainError(f"unknown config key {key!r}")
    return {k: v for k, v in values.items() if k in train_keys}


VALIDATION_KEYS = ("val_pieces", "val_draws", "val_seed")  # what makes validations comparable


def settings_from_args(args, overrides: dict) -> TrainSettings:
    check_settings(overrides)
    settings = TrainSettings(**overrides)
    settings.init_layers = tuple(int(i) for i in settings.init_layers)
    if getattr(args, "batch_size", None):
        settings.batch_size = args.batch_size
    if getattr(args, "lr", None):
        settings.lr = args.lr
    if settings.batch_size < 1 or settings.lr <= 0 or settings.crop < 1:
        raise TrainError("batch size, learning rate and crop must be positive")
    return settings


def learning_rate(settings: TrainSettings, step: int, fraction: float) -> float:
    """Linear warm-up, then cosine from lr to lr * final_lr_fraction as `fraction` goes 0 -> 1."""
    warm = min(1.0, (step + 1) / max(1, settings.warmup_steps))
    low = settings.final_lr_fraction
    cosine = low + (1 - low) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, fraction))))
    return settings.lr * warm * cosine
