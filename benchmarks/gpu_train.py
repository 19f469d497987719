"""Training throughput and peak memory per model on whatever device torch finds, in fp32 and with AMP.

Each (model, precision) runs in a fresh process: the training step of ``isplab.train.engine`` (channels-last,
fused Adam, the ``supervised`` objective with L1, :class:`isplab.train.device.MixedPrecision` autocast and, for
fp16, its gradient scaler) on one fixed random batch already on the device, so the figure is the model's
step, not the data pipeline. ``--warmup`` untimed steps, then steps are timed until both ``--min-steps`` and
``--seconds`` are reached (or ``--max-steps``).

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (weights, gradients, Adam state, activations and
the batch: every tensor of the step); on CPU the growth of the process's RSS high-water mark from just after
the model and batch are built (:mod:`isplab.bench.memory`: activations, gradients and Adam state).
Writes ``benchmarks/results/gpu_train.{json,md}``, naming the device that ran.

    python benchmarks/gpu_train.py [--models mialgo_3conv,microisp,pynetv2_mobile,smallnet] [--amp bf16,fp16]
        [--batch 8] [--patch 128] [--threads 2] [--device auto] [--warmup 2] [--min-steps 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

from _results import write_results  # benchmarks/_results.py

MODELS = "mialgo_3conv,microisp,pynetv2_mobile,smallnet"


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"CPU: {model}, {torch.get_num_threads()} threads"


def worker(args: argparse.Namespace) -> dict:
    """One (model, precision) measurement in this process."""
    import torch

    from isplab.bench.memory import rss_peak_mb, start_memory_window
    from isplab.models import create_model, model_entry
    from isplab.train.config import StageConfig, TrainConfig
    from isplab.train.device import HostToDevice, MixedPrecision, resolve_device
    from isplab.train.objectives import create_objective

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = resolve_device(args.device, option="--device")
    cfg = TrainConfig(model=args.worker, stages=[StageConfig(steps=1)])
    model = create_model(args.worker).to(device, memory_format=torch.channels_last)
    objective = create_objective("supervised", cfg=cfg, model=model, stage=cfg.stages[0]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    amp, to_device = MixedPrecision(args.amp, device), HostToDevice(device)
    entry = model_entry(args.worker)  # the smallest crop >= --patch the model takes (microisp: 79 packed)
    half = -(-max(args.patch // 2, entry.min_input) // entry.input_multiple) * entry.input_multiple
    raw = to_device(torch.rand(args.batch, 4, half, half).pin_memory() if to_device.pinned
                    else torch.rand(args.batch, 4, half, half), torch.channels_last)
    target = to_device(torch.rand(args.batch, 3, 2 * half, 2 * half))
    cuda = device.type == "cuda"

    def step() -> float:
        with amp.autocast():
            loss, _ = objective(model, raw, target, 0)
        optimizer.zero_grad(set_to_none=True)
        amp.backward(loss)
        amp.step(optimizer)
        return float(loss)  # synchronises with the device: the step is done

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    base, _ = start_memory_window()
    losses = [step() for _ in range(args.warmup)]  # warm-up: kernel selection, Adam state, allocator pools
    t0, steps = time.perf_counter(), 0
    while steps < args.max_steps and (steps < args.min_steps or time.perf_counter() - t0 < args.seconds):
        losses.append(step())
        steps += 1
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else rss_peak_mb() - base
    return {"model": args.worker, "amp": args.amp, "patch": 2 * half, "device": str(device),
            "device_name": device_name(str(device)),
            "steps": steps, "steps_per_s": steps / seconds, "ms_per_step": 1000 * seconds / steps,
            "peak_mem_mb": peak, "memory_method": "cuda max_memory_allocated" if cuda else "RSS high-water growth",
            "params": sum(p.numel() for p in model.parameters()), "loss_finite": all(map(_finite, losses))}


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=MODELS)
    p.add_argument("--amp", default="bf16,fp16", help="mixed-precision modes measured beside fp32")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=128, help="training crop, RGB pixels (raw is half)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--min-steps", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    modes = ["none", *[m for m in args.amp.split(",") if m]]
    common = ["--device", args.device]
    for name in ("batch", "patch", "threads", "warmup", "min_steps", "max_steps", "seconds"):
        common += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    rows = []
    for model in args.models.split(","):
        for mode in modes:
            out = subprocess.run([sys.executable, __file__, "--worker", model, "--amp", mode, *common],
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{model} {mode}: {r['steps_per_s']:.2f} steps/s, {r['peak_mem_mb']:.0f} MB", file=sys.stderr)
    fp32 = {r["model"]: r["steps_per_s"] for r in rows if r["amp"] == "none"}
    for r in rows:
        r["speedup_vs_fp32"] = r["steps_per_s"] / fp32[r["model"]]
    ran = rows[0]["device_name"]
    result = {"device": rows[0]["device"], "device_name": ran, "batch": args.batch, "patch": args.patch,
              "threads": args.threads, "torch": _torch_version(), "rows": rows}
    md = [
        "# Training steps/s and peak memory per model, fp32 and mixed precision", "",
        f"Ran on **{ran}** (`{rows[0]['device']}`), torch {result['torch']}. One training step of the engine "
        f"(channels-last, fused Adam, L1, `amp` autocast; fp16 with the gradient scaler) on a fixed batch of "
        f"{args.batch} crops of {args.patch}x{args.patch} RGB (or the model's minimum, in the table; packed raw is "
        f"half the side) already on the device; {args.warmup} warm-up step(s), then at least {args.min_steps} "
        f"steps and {args.seconds:g} s timed; each row a fresh process. Peak memory: {rows[0]['memory_method']}.", "",
        "| model | params | crop | amp | steps/s | ms/step | vs fp32 | peak memory, MB |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    md += [f"| {r['model']} | {r['params']:,} | {r['patch']} | {r['amp']} | {r['steps_per_s']:.2f} | "
           f"{r['ms_per_step']:.0f} | {r['speedup_vs_fp32']:.2f}x | {r['peak_mem_mb']:.0f} |" for r in rows]
    bad = [f"{r['model']} {r['amp']}" for r in rows if not r["loss_finite"]]
    md += ["", f"Non-finite loss: {', '.join(bad)}." if bad else "Every loss was finite."]
    write_results("gpu_train", result, md)


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()
