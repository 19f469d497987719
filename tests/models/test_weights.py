"""Checkpoints (isplab.models.weights): atomic save, raw domain in every file, clear errors on bad weights."""

from __future__ import annotations

import os

import pytest
import torch

from isplab.camera.profile import ISPLAB_DOMAIN, RawDomain
from isplab.cli import main
from isplab.errors import IsplabError
from isplab.models import create_model
from isplab.models.weights import (
    load_checkpoint,
    load_model_from_checkpoint,
    load_weights,
    model_checkpoint,
    raw_domain,
    resolve_weights,
    save_checkpoint,
)


def test_every_checkpoint_carries_its_raw_domain(tmp_path) -> None:
    net = create_model("smallnet")
    plain = save_checkpoint(tmp_path / "plain.pt", {"model_name": "smallnet", "model": net.state_dict()})
    assert raw_domain(load_checkpoint(plain)) == ISPLAB_DOMAIN  # a training checkpoint without one gets the default
    custom = RawDomain(black=(62, 60, 58, 61), white=1023, neutral=(0.5, 1, 0.6, 1))
    path = save_checkpoint(tmp_path / "c.pt", model_checkpoint("smallnet", {}, net, custom))
    model, state = load_model_from_checkpoint(path)
    assert RawDomain.from_dict(state["raw_domain"]) == custom
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), net.state_dict().values(), strict=True))


def test_old_checkpoint_without_domain_reads_as_isplab_default(tmp_path) -> None:
    path = tmp_path / "old.pt"
    torch.save({"model_name": "smallnet", "model_kwargs": {}, "model": create_model("smallnet").state_dict()}, path)
    _, state = load_model_from_checkpoint(path)
    assert state["raw_domain"] == ISPLAB_DOMAIN.to_dict()


@pytest.mark.parametrize("where", ["model", "optimizer"])
def test_non_finite_values_anywhere_name_the_file(tmp_path, where) -> None:
    state = model_checkpoint("smallnet", {}, create_model("smallnet"))
    state["optimizer"] = {"state": {0: {"exp_avg": torch.zeros(3)}}}
    target = state["model"]["conv2.bias"] if where == "model" else state["optimizer"]["state"][0]["exp_avg"]
    target[1] = float("nan")
    path = save_checkpoint(tmp_path / "nan.pt", state)
    with pytest.raises(IsplabError, match=rf"nan.pt: non-finite values \(NaN/inf\) in {where}\..*lower LR"):
        load_checkpoint(path)


def test_weights_of_another_model_are_one_line_error_naming_file_model_tensor(tmp_path, capsys) -> None:
    path = save_checkpoint(tmp_path / "mislabelled.pt",
                           {**model_checkpoint("smallnet", {}, create_model("mialgo_3conv"))})
    with pytest.raises(IsplabError) as err:
        load_model_from_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and "mislabelled.pt" in message and "'smallnet'" in message
    assert "conv1.weight is (12, 4, 3, 3) in the file, (16, 4, 3, 3) in the model" in message
    assert main(["eval", "--weights", str(path)]) == 2  # a CLI that loads weights: exit 2, no traceback
    assert "size mismatch" not in capsys.readouterr().err


def test_missing_and_extra_tensors_are_named() -> None:
    model = create_model("smallnet")
    state = model.state_dict()
    with pytest.raises(IsplabError, match="conv3.bias is missing from the file"):
        load_weights(model, {k: v for k, v in state.items() if k != "conv3.bias"}, "f.pt", "smallnet")
    with pytest.raises(IsplabError, match="the file has head.weight, which the model does not"):
        load_weights(model, {**state, "head.weight": torch.zeros(1)}, "f.pt", "smallnet")


def test_resolve_weights_and_missing_file_message(tmp_path) -> None:
    assert resolve_weights(tmp_path / "a.pt") == tmp_path / "a.pt"
    with pytest.raises(IsplabError, match="unknown model 'nope'"):
        resolve_weights("pretrained:nope")
    with pytest.raises(IsplabError, match="checkpoint not found.*pretrained:NAME"):
        load_checkpoint(tmp_path / "missing.pt")


def test_unreadable_checkpoint_names_its_permissions(tmp_path, monkeypatch) -> None:
    path = save_checkpoint(tmp_path / "locked.pt", model_checkpoint("smallnet", {}, create_model("smallnet")))
    path.chmod(0)
    if os.geteuid() == 0:  # modes do not bind root: deny the read as the OS would
        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(IsplabError, match=r"locked.pt: cannot read this file \(permission denied\)\. Fix its "
                                          r"permissions"):
        load_checkpoint(path)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def test_checkpoints_load_as_data_only(tmp_path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "shared.pt"
    torch.save({**model_checkpoint("smallnet", {}, create_model("smallnet")), "x": _Payload(marker)}, path)
    with pytest.raises(IsplabError) as err:
        load_checkpoint(path)
    assert not marker.exists()
    assert str(err.value) == (f"{path}: refused: loading it would run code (it names exec); isplab loads weights "
                              "as data only. Use a file written by isplab or torch.save(model.state_dict()), "
                              "or convert foreign weights with `isplab import`")
    path.write_bytes(b"\x80\x02not a pickle")  # merely corrupt: no talk of code
    with pytest.raises(IsplabError, match=r"shared\.pt: not a readable isplab checkpoint \(UnpicklingError\)"):
        load_checkpoint(path)


def test_every_checkpoint_isplab_writes_loads_as_data_only(tmp_path) -> None:
    """A training run's checkpoint (optimizer, scheduler, RNG, EMA, AMP scaler, config): plain data."""
    from isplab.train.config import EmaConfig, StageConfig, TrainConfig
    from isplab.train.engine import train

    cfg = TrainConfig(model="mialgo_3conv", stages=[StageConfig(steps=2)], val_every=2, ckpt_every=1,
                      ema=EmaConfig(decay=0.5))
    cfg.data.batch_size, cfg.data.stream.eval_cameras, cfg.data.val_max = 2, 1, 1
    train(cfg, tmp_path / "run", progress=False)
    for name in ("last.pt", "best.pt"):
        state = torch.load(tmp_path / "run" / "checkpoints" / name, weights_only=True)
        assert {"optimizer", "scheduler", "rng", "ema", "live_model", "amp_scaler", "config"} <= set(state)


@pytest.mark.parametrize(("change", "message"), [
    ({"model_kwargs": [1, 2]}, "damaged checkpoint: model_kwargs is [1, 2], not a mapping of option names"),
    ({"model_kwargs": {"foo": 3}}, "model 'smallnet' has no option 'foo'; its options: channels. Fix model_kwargs"),
    ({"model_kwargs": {"channels": -4}}, "model 'smallnet' cannot be built with {'channels': -4}"),
    ({"raw_domain": [1, 2, 3]}, "damaged checkpoint: raw_domain is [1, 2, 3], not a mapping"),
    ({"raw_domain": "x" * 500}, "damaged checkpoint: raw_domain is 'xxxxxxx"),
    ({"raw_domain": {"black": "dark"}}, "its raw_domain is unusable (could not convert string to float"),
    ({"model_name": 7}, "damaged checkpoint: model_name is 7, not a model name"),
    ({"model_name": "nope"}, "unknown model 'nope'"),
    ({"model": [1, 2]}, "damaged checkpoint: model is not a state dict (name -> tensor)"),
    ({"step": "ten"}, "damaged checkpoint: step is 'ten', not a count of steps"),
    ({"config": {"data": [1]}}, "damaged checkpoint: config is {'data': [1]}, not a training config mapping"),
])
def test_crafted_checkpoint_fields_are_one_line_errors_naming_the_file(tmp_path, change, message) -> None:
    path = tmp_path / "crafted.pt"
    torch.save({**model_checkpoint("smallnet", {}, create_model("smallnet")), **change}, path)
    with pytest.raises(IsplabError) as err:
        load_model_from_checkpoint(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text and len(text) < 400, text


def test_crafted_and_damaged_safetensors_cards_are_one_line_errors(tmp_path) -> None:
    """A card's metadata is checked like a .pt's fields; a damaged header (safetensors' own check) is one line."""
    card = save_checkpoint(tmp_path / "c.safetensors", {**model_checkpoint("smallnet", {}, create_model("smallnet")),
                                                        "model_kwargs": [1, 2]})
    with pytest.raises(IsplabError, match=r"c\.safetensors: damaged checkpoint: model_kwargs is \[1, 2\]"):
        load_model_from_checkpoint(card)
    data = bytearray(card.read_bytes())
    data[10:20] = b"\xff" * 10  # inside the JSON header
    card.write_bytes(bytes(data))
    with pytest.raises(IsplabError) as err:
        load_model_from_checkpoint(card)
    text = str(err.value)
    assert text.startswith(f"{card}: not a readable safetensors weights file (") and "\n" not in text
