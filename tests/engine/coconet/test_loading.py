import pytest
import torch

from engine.coconet.checkpoint import load_checkpoint, save_checkpoint
from engine.coconet.loading import DEFAULT_COCONET, load_coconet, save_coconet
from engine.coconet.model import Coconet, CoconetConfig
from engine.errors import CheckpointError


def small_trained_model():
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8, dilation=(1, 2)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    classes = torch.randint(0, 47, (4, 4, 12))
    mask = torch.rand(4, 4, 12) < 0.5
    for _ in range(3):  # moves weights and batch-norm statistics away from their defaults
        loss = model(classes, mask).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), classes, mask


def test_save_load_round_trip_identical_outputs(tmp_path):
    model, classes, mask = small_trained_model()
    path = tmp_path / "c.pt"
    save_coconet(path, model, step=3, metrics={"valid_nll": 2.0}, data={"source": "test"})
    loaded = load_coconet(path, for_inference=False)
    assert not loaded.training
    assert loaded.config == model.config
    assert loaded.checkpoint_info["step"] == 3
    with torch.inference_mode():
        assert torch.equal(loaded(classes, mask), model(classes, mask))
        fused = load_coconet(path)  # for_inference=True by default
        assert torch.allclose(fused(classes, mask), model(classes, mask), atol=1e-5)


def test_payload_is_self_describing(tmp_path):
    model, _, _ = small_trained_model()
    path = tmp_path / "c.pt"
    save_coconet(path, model, step=7, metrics={"m": 1.0}, data={"source": "x"}, extra={"e": 1})
    payload = load_checkpoint(path, "coconet")
    assert payload["kind"] == "coconet" and payload["config"]["dilation"] == [1, 2]
    assert payload["step"] == 7 and payload["data"] == {"source": "x"}
    assert payload["extra"] == {"e": 1}


def test_fused_model_cannot_be_saved(tmp_path):
    model, _, _ = small_trained_model()
    with pytest.raises(CheckpointError, match="fused"):
        save_coconet(tmp_path / "c.pt", model.fuse_for_inference(), step=0, metrics={}, data={})


def test_mismatched_weights_are_a_checkpoint_error(tmp_path):
    model, _, _ = small_trained_model()
    path = tmp_path / "c.pt"
    save_coconet(path, model, step=0, metrics={}, data={})
    payload = load_checkpoint(path, "coconet")
    payload["config"]["width"] = 16
    save_checkpoint(path, payload)
    with pytest.raises(CheckpointError, match="does not match"):
        load_coconet(path)


def test_wrong_kind_and_missing(tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, {"kind": "accompany", "config": {}, "state_dict": {}})
    with pytest.raises(CheckpointError, match="expected 'coconet'"):
        load_coconet(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_coconet(tmp_path / "missing.pt")


def test_default_path_points_into_the_package():
    assert DEFAULT_COCONET.name == "coconet.pt" and DEFAULT_COCONET.parent.name == "weights"


def test_the_shipped_models_by_name():
    from engine.coconet.defaults import MODEL_NAMES
    from engine.coconet.loading import FAST_COCONET, MODELS, model_checkpoint
    from engine.errors import CheckpointError

    assert tuple(MODELS) == MODEL_NAMES and model_checkpoint("standard") == DEFAULT_COCONET
    fast, standard = load_coconet(model_checkpoint("fast")), load_coconet()
    assert model_checkpoint("fast") == FAST_COCONET and fast.config.inner == 16
    assert fast.config.depth == standard.config.depth and standard.config.inner == 0
    assert fast.num_parameters() < 0.6 * standard.num_parameters()
    with pytest.raises(CheckpointError, match="model must be one of standard, fast; got 'huge'"):
        model_checkpoint("huge")


def test_a_damaged_state_dict_is_named_by_its_first_bad_key(tmp_path):
    import torch

    from engine.coconet.checkpoint import save_checkpoint
    from engine.coconet.loading import load_coconet
    from engine.coconet.model import Coconet, CoconetConfig
    from engine.errors import CheckpointError

    model = Coconet(CoconetConfig(depth=2, width=8))
    state = model.state_dict()
    state["inp.weight"] = torch.zeros(3, 3, 3, 3)
    del state["out.weight"]
    path = tmp_path / "damaged.pt"
    save_checkpoint(path, {"kind": "coconet", "config": model.config.to_dict(),
                           "state_dict": state, "step": 0, "metrics": {}, "data": {}})
    with pytest.raises(CheckpointError) as refused:
        load_coconet(path)
    text = str(refused.value)
    assert "does not match the Coconet network" in text and "Error(s) in loading" not in text
    assert "out.weight" in text or "inp.weight" in text


def test_a_training_state_given_for_a_model_points_at_best_pt(tmp_path):
    from engine.coconet.checkpoint import load_checkpoint, save_checkpoint

    model = Coconet(CoconetConfig(depth=2, width=8))
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"kind": "coconet-train", "config": model.config.to_dict(),
                           "state_dict": model.state_dict()})
    with pytest.raises(CheckpointError, match="training state: give the run's best.pt"):
        load_checkpoint(path, "coconet")
