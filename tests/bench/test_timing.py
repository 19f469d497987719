"""isplab.bench timing calls and ``isplab bench`` on tiny models: a 1-conv .tflite built on the fly, 1-conv
torch nets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from isplab.bench import (
    BenchResult,
    bench_tflite,
    bench_tflite_alternating,
    bench_tflite_interleaved,
    bench_torch,
)
from isplab.cli import main
from isplab.errors import IsplabError
from isplab.models.weights import model_checkpoint, save_checkpoint

STATS = ("median_ms", "mean_ms", "min_ms", "max_ms", "p90_ms")


class _Nhwc(nn.Module):
    """NHWC [1,H,W,4] -> NHWC, the exported-file convention, around one 3x3 conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory) -> Path:
    import litert_torch

    path = tmp_path_factory.mktemp("bench") / "tiny.tflite"
    litert_torch.convert(_Nhwc().eval(), (torch.rand(1, 8, 8, 4),)).export(str(path))
    return path


def _check(result: BenchResult, runs: int) -> None:
    assert len(result.times_ms) == result.runs == runs
    assert all(t > 0 for t in result.times_ms)
    assert all(getattr(result, k) > 0 for k in STATS)
    assert result.min_ms <= result.median_ms <= result.max_ms
    assert result.std_ms >= 0
    data = json.loads(json.dumps(result.to_dict()))  # JSON-serialisable, round-trips
    assert BenchResult.from_dict(data) == result


def test_bench_tflite_own_shape_in_subprocess(tiny_tflite):
    r = bench_tflite(tiny_tflite, None, threads=1, runs=3, warmup=1)
    _check(r, 3)
    assert r.input_shape == [1, 8, 8, 4] and r.output_shape == [1, 8, 8, 12]
    assert r.backend == "litert-xnnpack-cpu" and r.threads == 1
    assert r.memory_method == "subprocess" and r.peak_mem_mb >= 0 and r.process_peak_rss_mb > 0
    assert r.file_size_bytes == tiny_tflite.stat().st_size
    assert r.op_counts == {"CONV_2D": 1}
    assert r.profile is None  # LiteRT's Python API has no op profiler


def test_bench_tflite_resized_in_process(tiny_tflite):
    r = bench_tflite(tiny_tflite, (16, 24), threads=2, runs=2, warmup=0, isolate=False)
    _check(r, 2)
    assert r.input_shape == [1, 16, 24, 4] and r.output_shape == [1, 16, 24, 12]
    assert r.memory_method.startswith("in-process")


def test_memory_peak_is_the_models_own(tiny_tflite):
    """A big, freed allocation in this process must not leak into either measurement."""
    from isplab.bench.memory import rss_peak_mb

    block = bytearray(256 * 2**20)
    block[:: 4096] = b"1" * len(block[:: 4096])  # touch every page so it counts in RSS
    del block
    parent_peak = rss_peak_mb()
    child = bench_tflite(tiny_tflite, None, threads=1, runs=1, warmup=0)
    assert child.process_peak_rss_mb < parent_peak - 200  # not inherited from this process
    here = bench_tflite(tiny_tflite, None, threads=1, runs=1, warmup=0, isolate=False)
    if here.memory_method == "in-process (peak reset)":  # Linux
        assert 0 <= here.peak_mem_mb < 64


def test_bench_interleaved(tiny_tflite):
    out = bench_tflite_interleaved({"a": tiny_tflite, "b": tiny_tflite}, (8, 8), threads=1, runs=2, warmup=1)
    assert set(out) == {"a", "b"}
    for r in out.values():
        _check(r, 2)
        assert r.peak_mem_mb is None


def test_bench_alternating_blocks(tiny_tflite):
    out = bench_tflite_alternating({"a": tiny_tflite, "b": tiny_tflite}, None, threads=1, runs=3, warmup=0,
                                   block=2)
    for r in out.values():
        _check(r, 3)
        assert r.extra["subprocesses"] == 2 and r.memory_method == "subprocess"


def test_bench_torch_module_with_profile():
    model = nn.Sequential(nn.Conv2d(4, 12, 3, padding=1), nn.PixelShuffle(2))
    r = bench_torch(model, (8, 12), threads=1, runs=3, warmup=1, profile=True)
    _check(r, 3)
    assert r.input_shape == [1, 4, 8, 12] and r.output_shape == [1, 3, 16, 24]
    assert r.backend == "torch-cpu" and r.params == sum(p.numel() for p in model.parameters())
    assert r.profile and {"op", "calls", "self_ms", "total_ms"} <= set(r.profile[0])


def test_bench_torch_checkpoint_in_subprocess(tmp_path):
    from isplab.models import create_model

    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, create_model("smallnet")))
    r = bench_torch(ckpt, (8, 8), threads=1, runs=2, warmup=0)
    _check(r, 2)
    assert r.memory_method == "subprocess" and r.model.startswith("smallnet")
    assert r.file_size_bytes == ckpt.stat().st_size


def test_bad_files_raise_one_line_errors(tmp_path):
    with pytest.raises(IsplabError, match="no such file"):
        bench_tflite(tmp_path / "missing.tflite", isolate=False)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(IsplabError, match="bad.tflite: the TFLite runtime cannot load"):
        bench_tflite(bad)  # via the subprocess: the error comes back intact
    with pytest.raises(IsplabError, match="runs >= 1"):
        bench_tflite(bad, runs=0)


def test_unresizable_graph_names_the_fix(shared_file):
    official = shared_file("peers", "microisp-official", "MicroISP.tflite")
    with pytest.raises(IsplabError, match="omit --input-size"):
        bench_tflite(official, (64, 96), runs=1, warmup=0, isolate=False)


def test_cli_bench(tiny_tflite, tmp_path, capsys):
    out = tmp_path / "r" / "bench.json"
    assert main(["bench", str(tiny_tflite), "--input-size", "8x16", "--runs", "2", "--warmup", "0",
                 "--threads", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "median" in printed and "[1, 8, 16, 4]" in printed
    data = json.loads(out.read_text())
    assert data["input_shape"] == [1, 8, 16, 4] and len(data["times_ms"]) == 2 and data["profile"] is None


def test_cli_bench_errors(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope.tflite")]) == 2
    err = capsys.readouterr().err
    assert "nope.tflite: no such file" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    assert main(["bench", str(bad), "--runs", "1"]) == 2
    assert "bad.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bench", str(bad), "--input-size", "544"])
    assert exc.value.code == 2


def test_cli_bench_checks_json_before_timing(tmp_path, monkeypatch, capsys, raising):
    import isplab.bench as bench

    for name in ("bench_tflite", "bench_torch"):
        monkeypatch.setattr(bench, name, raising(AssertionError("timed before --json was checked")))
    (tmp_path / "afile").write_text("x")
    for json_path, expected in ((tmp_path, "is a folder, not a file"), (tmp_path / "afile" / "b.json", "is a file")):
        assert main(["bench", str(tmp_path / "m.tflite"), "--json", str(json_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expected in err, err


def test_cli_bench_removes_stale_temp_files_beside_the_json(tmp_path, monkeypatch, raising, stale_temp):
    import isplab.bench as bench

    stale = stale_temp(tmp_path, "b.json")  # left by an interrupted earlier run
    monkeypatch.setattr(bench, "bench_tflite", raising(IsplabError("stop")))
    assert main(["bench", str(tmp_path / "m.tflite"), "--json", str(tmp_path / "b.json")]) == 2
    assert not stale.exists()


def test_shipped_weights_bench_by_name():
    from isplab.bench.timing import bench_torch

    result = bench_torch("pretrained:mialgo_3conv", input_size=(16, 16), runs=1, warmup=0, isolate=False)
    assert result.median_ms > 0
