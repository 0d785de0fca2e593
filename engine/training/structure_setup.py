"""Setting up a Coconet run: metadata for the data, weights to start from, a teacher to learn from."""

from __future__ import annotations

import numpy as np

from engine.coconet.structure import NUM_PLANES
from engine.errors import CantorError
from engine.music.pianoroll import in_model_range, to_classes
from engine.training.structured import StructuredCropSampler, structure_of


def piece_metadata(spec: str, data) -> dict:
    """Per split, per piece: recovered metadata or None (only JSB-16th is matched to music21)."""
    if spec.startswith("jsb16:"):
        from engine.training.chorale_meta import load_jsb_metadata

        return load_jsb_metadata(spec[len("jsb16:"):])
    return {s: [None] * len(data.split(s)) for s in ("train", "valid", "test")}


def classes_and_structures(pieces, metas):
    """Pieces within the model's range as classes, with their structures (same filter as training)."""
    kept = [(np.asarray(p), m) for p, m in zip(pieces, metas) if in_model_range(np.asarray(p))]
    return ([to_classes(p) for p, _ in kept], [structure_of(p.shape[1], m) for p, m in kept])


def structured_samplers(spec: str, data, settings, config):
    """The training sampler and the validation structures of a structure-aware run."""
    if config.cond_planes != NUM_PLANES:
        raise CantorError(f"structure training needs a model with cond_planes={NUM_PLANES};"
                          f" this config has {config.cond_planes}")
    metas = piece_metadata(spec, data)
    train, train_structures = classes_and_structures(data.split("train"), metas["train"])
    _, valid_structures = classes_and_structures(data.split("valid"), metas["valid"])
    sampler = StructuredCropSampler(train, train_structures, settings.crop, settings.max_shift,
                                    drop=settings.drop_meta, cadence_before=settings.cadence_steps)
    return sampler, valid_structures


def initial_weights(path, config, layers=(), probe=None):
    """A model of `config` starting from a checkpoint's weights; a plain Coconet grows zero-weighted
    structure inputs, so it starts out computing exactly what it computed before. `layers`: the
    checkpoint's hidden layers a shallower `config` keeps, in order (see `shallower`). A narrower
    `config.inner` than the checkpoint's keeps each pair's busiest inner channels, measured on the
    batches `probe()` returns (engine/training/prune.py)."""
    from engine.coconet.loading import load_coconet
    from engine.coconet.model import with_cond_planes

    model = load_coconet(path, for_inference=False).train()
    if model.config.cond_planes == 0 and config.cond_planes:
        model = with_cond_planes(model, config.cond_planes)
    if layers:
        model = shallower(model, layers)
    if config.inner and config.inner_width < model.config.inner_width and probe is not None:
        from engine.training.prune import narrower

        model = narrower(model, config.inner, probe())
    if model.config.to_dict() != config.to_dict():
        raise CantorError(f"--init {path}: its network {model.config.to_dict()} is not the one asked"
                          f" for {config.to_dict()}")
    return model


def shallower(model, layers):
    """A copy of `model` that keeps only the hidden layers `layers` (indices, in order), with its
    input and output convolutions; the dilations are those of the kept layers, which must cycle
    as a config's do (keep whole cycles of the dilation pattern)."""
    import copy

    from engine.coconet.model import Coconet, CoconetConfig

    depth, cycle = model.config.depth, model.config.dilation
    layers = [int(i) for i in layers]
    if not layers or any(not 0 <= i < depth for i in layers) or len(set(layers)) != len(layers):
        raise CantorError(f"init_layers must name distinct layers 0..{depth - 1}; got {layers}")
    config = CoconetConfig(**{**model.config.to_dict(), "depth": len(layers)})
    wanted = [config.dilation[i % len(cycle)] for i in range(len(layers))]
    if [cycle[i % len(cycle)] for i in layers] != wanted:
        raise CantorError(f"init_layers {layers} break the dilation cycle {list(cycle)}: keep whole"
                          " cycles")
    student = Coconet(config)
    student.inp, student.inp_norm, student.out = (copy.deepcopy(m) for m in (
        model.inp, model.inp_norm, model.out))
    for i, k in enumerate(layers):
        student.layers[i] = copy.deepcopy(model.layers[k])
    return student.train(model.training)


def load_teacher(path, config):
    """The frozen teacher of a distillation run; it must read the same inputs as the student."""
    from engine.coconet.loading import load_coconet

    teacher = load_coconet(path, for_inference=False).eval()
    if teacher.config.cond_planes != config.cond_planes:
        raise CantorError(f"teacher {path} reads {teacher.config.cond_planes} structure planes,"
                          f" the net {config.cond_planes}")
    # Batch norms folded and channels-last, frozen: 15-25 % faster passes than the plain eval
    # model (fp32, batch 4 x 128 steps, 2 threads, AVX2), equal to 1e-4.
    return teacher.fuse_for_inference()

