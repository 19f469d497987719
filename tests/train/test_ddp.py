"""Multi-process training: 2 processes x batch B must equal 1 process x batch 2B (gloo on CPU)."""

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from isplab.config import from_dict, to_dict
from isplab.data import synthesize_dataset
from isplab.models.weights import load_checkpoint
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.engine import step_batches, train


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

    seen = []  # the targets' sums this rank trained on, to prove the sharding
    batches = engine.step_batches

    def recording(*args, **kwargs):
        for raw, target in batches(*args, **kwargs):
            seen.append(target.sum(dim=(1, 2, 3)).tolist())
            yield raw, target

    engine.step_batches = recording
    train(cfg, out, progress=False)
    Path(out, f"rank{rank}.json").write_text(json.dumps(seen))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weights(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


class _Source:
    """Batch ``step`` = items ``step * size ...``: each value says which global item it is."""

    def batch(self, step: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        items = torch.arange(step * size, (step + 1) * size, dtype=torch.float32)
        return items.view(-1, 1, 1, 1), items.view(-1, 1, 1, 1)


def test_rank_slices_partition_the_global_batch() -> None:
    cfg = TrainConfig(data=DataConfig(batch_size=2))
    whole = list(step_batches(_Source(), replace(cfg, data=DataConfig(batch_size=4)), 0, 3))
    shards = [list(step_batches(_Source(), cfg, 0, 3, rank=r, world=2)) for r in range(2)]
    for step, (raw, _) in enumerate(whole):
        torch.testing.assert_close(torch.cat([shards[0][step][0], shards[1][step][0]]), raw)


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
    from isplab.train.data import build_run_data

    source = build_run_data(tiny_config(data, 4).data, seed=0).train
    global_batches = [source.batch(step, 4)[1].sum(dim=(1, 2, 3)).tolist() for step in range(4)]
    for a, b, full in zip(*ranks, global_batches, strict=True):
        assert a + b == pytest.approx(full)
    ddp, single, half = weights(tmp_path / "ddp"), weights(tmp_path / "single"), weights(tmp_path / "half")
    for k in single:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-5, atol=1e-6)
    # the comparison is not vacuous: a single process with the per-rank batch lands elsewhere
    assert any(not torch.allclose(half[k], single[k], atol=1e-5) for k in single)
    # only rank 0 wrote: one metrics line per validation, one TensorBoard event file
    assert len((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()) == 2
    assert len(list((tmp_path / "ddp" / "tb").iterdir())) == 1
