"""Community weights (isplab.models.imports) equal their source: Arhire & Timofte's own ``model.py``
(loaded by path from ../shared, never copied) against the imported isplab checkpoints, on a real raw crop
through each side's own input normalisation. All 12 released ``.pth`` files are checked."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from isplab.camera.adapt import linearize, to_model_input
from isplab.cli import main
from isplab.errors import IsplabError
from isplab.models.imports import crd_to_dcr, import_pytorch
from isplab.models.weights import load_model_from_checkpoint, raw_domain
from isplab.raw.bayer import pack

ARHIRE = ("peers", "arhire-cvprw25")
RAW = ("data", "real-raw", "fast-openisp-test-1920x1080-rggb-10bit.raw")
FILES = {
    "efficientisp": [
        "Fujifilm/Efficient_ISP_paired_step_37580.pth", "Fujifilm/Efficient_ISP_paired_wo_adv_losses_step_31190.pth",
        "Fujifilm/Efficient_ISP_unpaired_step_27220.pth", "ZRR/Efficient_ISP_paired_step_195100.pth",
        "ZRR/Efficient_ISP_paired_wo_adv_losses_step_57200.pth", "ZRR/Efficient_ISP_unpaired_step_30750.pth",
    ],
    "robustisp": [
        "Fujifilm/Robust_paired_step_31560.pth", "Fujifilm/Robust_paired_wo_adv_losses_step_29030.pth",
        "Fujifilm/Robust_unpaired_step_66090.pth",
    ],
    "rmfanet_tiny": [
        "Fujifilm/RMFA_TINY_paired_step_31690.pth", "Fujifilm/RMFA_TINY_paired_wo_adv_losses_step_36120.pth",
        "Fujifilm/RMFA_TINY_unpaired_step_48270.pth",
    ],
}
CASES = [(source, f) for source, files in FILES.items() for f in files]


def _their_module(shared_file):
    spec = importlib.util.spec_from_file_location("arhire_model", shared_file(*ARHIRE, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mosaic(shared_file, size: int = 128) -> np.ndarray:
    """An RGGB crop of the real 10-bit chart, levels moved to [64, 1023] (above every black level used)."""
    frame = np.fromfile(shared_file(*RAW), dtype="<u2").reshape(1080, 1920)
    crop = frame[400 : 400 + size, 800 : 800 + size].astype(np.float32)
    return 64.0 + crop * (1023.0 - 64.0) / 1020.0


def _their_output(module, source: str, path, mosaic: np.ndarray) -> torch.Tensor:
    net = {"efficientisp": module.EfficientISP, "robustisp": module.RobustISP,
           "rmfanet_tiny": module.create_tiny_rmfa_net}[source]()
    net.load_state_dict(torch.load(path, map_location="cpu"))
    if source == "rmfanet_tiny":
        x = module.preprocess_raw_with_three_channel_split(torch.from_numpy(mosaic))[None]
    else:  # run_inference.py's RawImageDataset.preprocess_raw_image (that script runs on import)
        packed = np.dstack((mosaic[1::2, 1::2], mosaic[0::2, 1::2], mosaic[0::2, 0::2], mosaic[1::2, 0::2]))
        black = np.array([62, 60, 58, 61], dtype=np.float32)
        x = torch.tensor((packed - black) / (1023 - black), dtype=torch.float32).permute(2, 0, 1)[None]
    with torch.no_grad():
        return net.eval()(x)


@pytest.mark.parametrize(("source", "name"), CASES)
def test_imported_model_equals_their_model(source, name, shared_file) -> None:
    path = shared_file(*ARHIRE, "models", *name.split("/"))
    mosaic = _mosaic(shared_file)
    model_name, model, domain = import_pytorch(source, path)
    x = to_model_input(linearize(pack(mosaic), domain), domain)  # isplab's packing + the carried domain
    with torch.no_grad():
        ours = model(torch.from_numpy(x)[None])
    theirs = _their_output(_their_module(shared_file), source, path, mosaic)
    assert ours.shape == theirs.shape == (1, 3, 128, 128)
    assert (ours - theirs).abs().max().item() <= 1e-5, (model_name, name)
    assert theirs.std() > 0.02  # a real picture, not a constant the check would pass trivially


def test_cli_import_writes_checkpoint_with_their_domain(shared_file, tmp_path, capsys) -> None:
    src = shared_file(*ARHIRE, "models", "Fujifilm", "Efficient_ISP_paired_step_37580.pth")
    assert main(["import", "efficientisp", "--from", str(src), "--out", str(tmp_path / "e.pt")]) == 0
    assert "into mialgo_3conv" in capsys.readouterr().out
    _, state = load_model_from_checkpoint(tmp_path / "e.pt")
    domain = raw_domain(state)
    assert state["model_name"] == "mialgo_3conv"
    assert domain.black == (62.0, 60.0, 58.0, 61.0) and domain.white == (1023.0,) * 4
    assert domain.neutral is not None and "calibration" in state  # calibrated on import
    assert main(["import", "efficientisp", "--from", str(src), "--out", str(tmp_path / "raw.pt"),
                 "--no-calibrate"]) == 0
    assert raw_domain(load_model_from_checkpoint(tmp_path / "raw.pt")[1]).neutral is None


def test_crd_to_dcr_turns_pixel_shuffle_into_depth_to_space() -> None:
    from isplab.models.ops import depth_to_space

    x = torch.rand(1, 12, 3, 5)
    assert torch.equal(depth_to_space(x[:, crd_to_dcr(3)], 2), torch.nn.functional.pixel_shuffle(x, 2))


def test_foreign_file_errors(tmp_path) -> None:
    with pytest.raises(IsplabError, match="unknown import source 'nope'"):
        import_pytorch("nope", tmp_path / "x.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(IsplabError, match="bad.pth: not a readable PyTorch state dict"):
        import_pytorch("robustisp", bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(3, 4, 3, 3)}, wrong)
    with pytest.raises(IsplabError, match="wrong.pth: weights do not fit model 'robustisp'"):
        import_pytorch("robustisp", wrong)
