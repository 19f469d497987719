"""Multi-process training: 2 processes x batch B must equal 1 process x batch 2B (gloo on CPU)."""

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from isplab.config import from_dict, to_dict
from isplab.data import synthesize_dataset
from isplab.models.weights import load_checkpoint
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.engine import _RankSlice, _StepBatches, train


def tiny_config(data_dir, batch_size: int) -> TrainConfig:
    cfg = TrainConfig(model="mialgo_3conv", data=DataConfig(path=str(data_dir), batch_size=batch_size,
                                                            val_fraction=0.2),
                      optim={"lr": 1e-3}, stages=[StageConfig(steps=4)], val_every=2, ckpt_every=2, log_every=1,
                      threads=1)
    return from_dict(TrainConfig, to_dict(cfg))


def _worker(rank: int, world: int, port: int, cfg: TrainConfig, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    import isplab.train.engine as engine

    seen = []  # the (index, augmentation) keys this rank trained on, to prove the sharding
    make_loader = engine.make_loader

    def recording_loader(*args, **kwargs):
        loader = make_loader(*args, **kwargs)
        seen.extend(list(loader.batch_sampler))
        return loader

    engine.make_loader = recording_loader
    train(cfg, out, progress=False)
    Path(out, f"rank{rank}.json").write_text(json.dumps(seen))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weights(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def test_rank_slices_partition_the_global_batch() -> None:
    batches = _StepBatches(n=10, batch_size=4, seed=3, start=0, end=5, augment=True)
    shards = [list(_RankSlice(batches, r, 2)) for r in range(2)]
    for step, full in enumerate(batches):
        assert shards[0][step] + shards[1][step] == full
    with pytest.raises(ValueError, match="divisible"):
        _RankSlice(_StepBatches(10, 3, 0, 0, 1, False), 0, 2)


def test_two_processes_equal_one_process_with_double_batch(tmp_path) -> None:
    data = synthesize_dataset(tmp_path / "d", n=10, seed=1)
    ctx, port = mp.get_context("spawn"), _free_port()
    procs = [ctx.Process(target=_worker, args=(r, 2, port, tiny_config(data, 2), str(tmp_path / "ddp")))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0, "a DDP worker failed (see its stderr)"
    train(tiny_config(data, 4), tmp_path / "single", progress=False)
    train(tiny_config(data, 2), tmp_path / "half", progress=False)
    ranks = [json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in range(2)]
    global_batches = [[list(k) for k in b] for b in _StepBatches(8, 4, 0, 0, 4, True)]
    assert [a + b for a, b in zip(*ranks, strict=True)] == global_batches
    ddp, single, half = weights(tmp_path / "ddp"), weights(tmp_path / "single"), weights(tmp_path / "half")
    for k in single:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-5, atol=1e-6)
    # the comparison is not vacuous: a single process with the per-rank batch lands elsewhere
    assert any(not torch.allclose(half[k], single[k], atol=1e-5) for k in single)
    # only rank 0 wrote: one metrics line per validation, one TensorBoard event file
    assert len((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()) == 2
    assert len(list((tmp_path / "ddp" / "tb").iterdir())) == 1
