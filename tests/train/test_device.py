"""Device and mixed precision: resolution, host-to-device transfer choice, AMP training and exact resume."""

import pytest
import torch

from isplab.cli import main
from isplab.config import ConfigError, dump_yaml, from_dict, load_yaml, to_dict
from isplab.data import synthesize_dataset
from isplab.errors import IsplabError
from isplab.models.weights import load_checkpoint
from isplab.train import engine
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.device import AMP_MODES, DEVICES, HostToDevice, MixedPrecision, resolve_device
from isplab.train.engine import train

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("d") / "synth", n=6, size=32, seed=3)


def tiny(data_dir, **kw) -> TrainConfig:
    base = dict(model="mialgo_3conv", data=DataConfig(path=str(data_dir), batch_size=2, val_fraction=0.34),
                stages=[StageConfig(steps=4, losses=[{"name": "l1"}, {"name": "ssim", "weight": 0.5}])],
                val_every=2, ckpt_every=2, log_every=1, optim={"lr": 1e-3})
    base.update(kw)
    return from_dict(TrainConfig, to_dict(TrainConfig(**base)))


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch claims a GPU: exercises the choices made for CUDA without running anything on one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    return chosen


def test_auto_is_cpu_without_a_gpu(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_names_the_fix(no_cuda):
    with pytest.raises(IsplabError, match=r"--device cuda: .*To fix: .*--device cpu"):
        resolve_device("cuda", option="--device")
    with pytest.raises(IsplabError, match="unknown device"):
        resolve_device("gpu")


def test_auto_and_cuda_take_the_local_rank_gpu(fake_cuda):
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=3) == torch.device("cuda", 3)
    assert resolve_device("cpu", local_rank=3) == torch.device("cpu")


def test_single_process_run_uses_the_config_device(fake_cuda, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = engine._init_distributed("auto")
    assert (d.device, d.world, fake_cuda) == (torch.device("cuda", 1), 1, [torch.device("cuda", 1)])
    assert engine._init_distributed("cpu").device == torch.device("cpu")


def test_cuda_batches_are_pinned_and_copied_asynchronously(fake_cuda):
    cuda, cpu = HostToDevice(torch.device("cuda", 0)), HostToDevice(torch.device("cpu"))
    assert cuda.pinned and not cpu.pinned
    x = torch.rand(2, 4, 8, 8)
    assert cpu(x) is x
    assert cpu(x, torch.channels_last).is_contiguous(memory_format=torch.channels_last)


def test_dataloader_workers_pin_memory_when_asked(monkeypatch, data_dir):
    seen = []

    def loader(*args, pin_memory=False, **kwargs):
        seen.append(pin_memory)
        return real(*args, **kwargs)  # no accelerator here to pin for

    real = engine.DataLoader
    monkeypatch.setattr(engine, "DataLoader", loader)
    cfg = tiny(data_dir, data=DataConfig(path=str(data_dir), batch_size=2, num_workers=1))
    source = engine.build_run_data(cfg.data, cfg.seed).train
    for pin in (True, False):
        batches = list(engine.step_batches(source, cfg, 0, 2, pin_memory=pin))
        assert len(batches) == 2 and batches[0][0].shape[0] == 2
    assert seen == [True, False]


def test_config_round_trip_and_checks(tmp_path):
    cfg = TrainConfig(device="cpu", amp="bf16")
    path = tmp_path / "c.yml"
    path.write_text(dump_yaml(cfg))
    back = load_yaml(TrainConfig, path)
    assert (back.device, back.amp) == ("cpu", "bf16")
    assert (TrainConfig().device, TrainConfig().amp) == ("auto", "none")
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda"):
        TrainConfig(device="gpu")
    with pytest.raises(ConfigError, match="amp must be one of none, bf16, fp16"):
        from_dict(TrainConfig, {"amp": "fp8"})


def test_cli_choices_match_the_library():
    from isplab.cli import args

    assert (args.DEVICES, args.AMP_MODES) == (DEVICES, AMP_MODES)


def test_autocast_modes_on_cpu():
    conv = torch.nn.Conv2d(4, 3, 3)
    x = torch.rand(1, 4, 8, 8)
    dtypes = {}
    for mode in AMP_MODES:
        with MixedPrecision(mode, torch.device("cpu")).autocast():
            dtypes[mode] = conv(x).dtype
    assert dtypes == {"none": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    with pytest.raises(IsplabError, match="unknown mode"):
        MixedPrecision("fp8", torch.device("cpu"))


def test_fp16_overflow_skips_the_step_and_lowers_the_scale():
    amp = MixedPrecision("fp16", torch.device("cpu"))
    assert not amp.checks_gradients and MixedPrecision("bf16", torch.device("cpu")).checks_gradients
    conv = torch.nn.Conv2d(4, 3, 3)
    opt = torch.optim.Adam(conv.parameters(), lr=0.1, fused=True)
    amp.load_state_dict({**amp.state_dict(), "scale": 3e38})  # scaled fp16 gradients overflow
    before = [p.detach().clone() for p in conv.parameters()]
    with amp.autocast():
        loss = conv(torch.rand(1, 4, 8, 8)).float().mean()
    amp.backward(loss)
    amp.step(opt)
    assert all(torch.equal(a, b) for a, b in zip(before, conv.parameters(), strict=True))
    assert amp.state_dict()["scale"] < 3e38


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_amp_trains_on_cpu_and_resumes_exactly(tmp_path, data_dir, mode):
    cfg = tiny(data_dir, amp=mode, device="cpu")
    full = train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "killed", stop_after=2, progress=False)
    resumed = train(cfg, tmp_path / "killed", resume=True, progress=False)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "killed/checkpoints/last.pt")
    assert resumed.step == full.step == 4 and 0 < full.metrics["psnr"] < 100
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    # fp16: the scale and growth tracker continue from the checkpoint (a fresh scaler would restart them)
    assert a["amp_scaler"] == b["amp_scaler"] and bool(a["amp_scaler"]) == (mode == "fp16")
    init = train(cfg.with_total_steps(1), tmp_path / "one", progress=False)
    assert full.metrics["train_s"] > 0 and init.step == 1
    one = load_checkpoint(tmp_path / "one/checkpoints/last.pt")["model"]
    assert any(not torch.equal(one[k], a["model"][k]) for k in one)  # it trained past step 1


def test_bf16_loss_is_finite_and_logged(tmp_path, data_dir):
    import json

    train(tiny(data_dir, amp="bf16"), tmp_path / "r", progress=False)
    records = [json.loads(line) for line in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4] and all(0 < r["psnr"] < 100 for r in records)


def test_cli_device_and_amp(tmp_path, data_dir, capsys, no_cuda):
    run = tmp_path / "cli"
    assert main(["train", "--model", "mialgo_3conv", "--data", str(data_dir), "--out", str(run), "--steps", "1",
                 "--batch-size", "2", "--device", "cpu", "--amp", "bf16", "--no-progress"]) == 0
    saved = load_yaml(TrainConfig, run / "config.yml")
    assert (saved.device, saved.amp) == ("cpu", "bf16")
    assert main(["train", "--model", "mialgo_3conv", "--out", str(tmp_path / "gpu"), "--steps", "1",
                 "--device", "cuda"]) == 2
    assert main(["eval", "--weights", str(run / "checkpoints/last.pt"), "--data", str(data_dir),
                 "--device", "cuda"]) == 2
    assert main(["challenge", "--out", str(tmp_path / "ch"), "--budget", "tiny", "--device", "cuda"]) == 2
    assert not (tmp_path / "ch").exists()  # refused before any training
    err = capsys.readouterr().err
    assert err.count("device cuda:") == 3 and "Traceback" not in err
    adapted = tmp_path / "adapted"
    assert main(["adapt", "--weights", str(run / "checkpoints/last.pt"), "--data", str(data_dir), "--out",
                 str(adapted), "--shots", "1", "--steps", "1", "--device", "cpu", "--amp", "fp16",
                 "--no-progress"]) == 0
    saved = load_yaml(TrainConfig, adapted / "config.yml")
    assert (saved.device, saved.amp) == ("cpu", "fp16")


def test_evaluate_computes_on_the_given_device_and_scores_on_the_cpu(data_dir):
    """Inputs go to ``device``, outputs come back to the CPU for the metrics. On a CPU-only machine the
    second device is ``meta`` (no data): the model computes from the input's shape, so the scores must equal
    those of the same constant model on the CPU (a real GPU: test_cuda_eval_matches_cpu)."""
    from isplab.data.splits import folder_eval_set
    from isplab.evaluate import evaluate

    class Grey(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.devices = []

        def forward(self, raw):
            self.devices.append(raw.device)
            n, _, h, w = raw.shape
            return torch.full((n, 3, 2 * h, 2 * w), 0.5)  # on the CPU: evaluate must accept it back

    images = folder_eval_set(data_dir, "val", 0.34, 1020.0)
    on_meta, on_cpu = Grey(), Grey()
    scores = evaluate(on_meta, images, 2, device="meta")
    assert scores == evaluate(on_cpu, images, 2) and 0 < scores["psnr"] < 30
    assert set(on_meta.devices) == {torch.device("meta")} and set(on_cpu.devices) == {torch.device("cpu")}


def test_distill_teacher_moves_with_the_objective():
    from isplab.models import create_model
    from isplab.train.objectives import create_objective

    cfg = TrainConfig(model="mialgo_3conv")
    obj = create_objective("distill", cfg=cfg, model=create_model("mialgo_3conv"), stage=cfg.stages[0],
                           teacher_model="mialgo_3conv").to(torch.float64)
    assert all(p.dtype == torch.float64 for p in obj.teacher.parameters())


@needs_cuda
@pytest.mark.parametrize("mode", ["none", "bf16", "fp16"])
def test_cuda_trains_and_resumes(tmp_path, data_dir, mode):
    if mode == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    cfg = tiny(data_dir, amp=mode, device="cuda", ema={"decay": 0.9},
               data=DataConfig(path=str(data_dir), batch_size=2, val_fraction=0.34, num_workers=1))
    full = train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "killed", stop_after=2, progress=False)
    train(cfg, tmp_path / "killed", resume=True, progress=False)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "killed/checkpoints/last.pt")
    assert 0 < full.metrics["psnr"] < 100 and "cuda_rng" in a
    for k in a["model"]:  # cuDNN kernels may differ in rounding between processes: close, not bit-equal
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-3, atol=1e-4)


@needs_cuda
def test_cuda_eval_matches_cpu(data_dir):
    from isplab.data.splits import folder_eval_set
    from isplab.evaluate import evaluate
    from isplab.models import create_model

    model = create_model("mialgo_3conv")
    images = folder_eval_set(data_dir, "val", 0.34, 1020.0)
    cpu = evaluate(model, images, 2)
    gpu = evaluate(model.to("cuda"), images, 2, device="cuda")
    assert gpu["psnr"] == pytest.approx(cpu["psnr"], abs=1e-3)
