"""Candidate latency: measured on the exported ``.tflite`` (cached on disk), or predicted by a fitted table.

Measured: the candidate is converted to float32 TFLite at the search's input size (Full HD 544x960 packed
by default: :data:`isplab.bench.DEFAULT_INPUT_SIZE`) with :func:`isplab.export.convert.convert_float`
and timed with :func:`isplab.bench.bench_tflite` (LiteRT XNNPACK, CPU, median of ``runs``). The result is
cached in ``cache_dir/<key>.json`` where ``key`` hashes the config, the input size and the thread count,
so a resumed or repeated search never re-measures a point.

Predicted (:class:`LatencyTable`): ms = intercept + sum over op types of coefficient x cost, cost being
the op type's MACs for convolution-like ops (from :func:`isplab.export.tflite_info.count_macs`) and its
output elements for the others, fitted by non-negative least squares on measured files. It reads costs
from the graph, never from parameter counts, and skips the timing runs (still one conversion per point).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from isplab.atomic import write_text_atomic
from isplab.bench import DEFAULT_INPUT_SIZE
from isplab.export.flatbuffer import Graph, read_graph
from isplab.export.tflite_info import count_macs
from isplab.models.zoo.enerzai import EnerzaiConfig, EnerzaiNet
from isplab.search.space import config_key

_MAC_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL"}


@dataclass(frozen=True)
class LatencySpec:
    """How a candidate is timed: packed input ``(H, W)``, LiteRT threads, timed and warm-up runs."""

    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE
    threads: int = 2
    runs: int = 5
    warmup: int = 1


@dataclass
class LatencyRecord:
    """One candidate's latency (``ms``: median) and the graph costs a :class:`LatencyTable` is fitted on."""

    key: str
    ms: float
    input_size: list[int]
    threads: int
    macs: int
    op_costs: dict[str, float] = field(default_factory=dict)
    source: str = "measured"  #: ``measured`` (bench_tflite) or ``table`` (LatencyTable prediction)


def op_costs(graph: Graph) -> dict[str, float]:
    """Cost per op type of a TFLite graph: MACs for convolution-like ops, output elements for the rest."""
    costs: dict[str, float] = {}
    for op in graph.ops:
        if op.name in _MAC_OPS:
            cost = count_macs(replace(graph, ops=(op,)))
        else:
            cost = sum(graph.tensors[i].size for i in op.outputs if i >= 0)
        costs[op.name] = costs.get(op.name, 0.0) + float(cost)
    return costs


def cache_key(cfg: EnerzaiConfig, spec: LatencySpec) -> str:
    """Identity of a measurement: the config, the input size and the thread count."""
    text = f"{config_key(cfg)}|{spec.input_size[0]}x{spec.input_size[1]}|t{spec.threads}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def export_candidate(cfg: EnerzaiConfig, input_size: tuple[int, int], path: Path) -> bytes:
    """Float32 ``.tflite`` of the (randomly initialised) candidate; latency does not depend on weights."""
    import torch

    from isplab.atomic import write_atomic
    from isplab.export.convert import convert_float

    torch.manual_seed(0)
    data = convert_float(EnerzaiNet(cfg).eval(), tuple(input_size))
    write_atomic(path, lambda f: f.write(data))
    return data


class LatencyCache:
    """Measured latencies on disk: ``<dir>/<key>.json`` (+ the ``.tflite`` that was timed)."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)

    def get(self, key: str) -> LatencyRecord | None:
        path = self.dir / f"{key}.json"
        return LatencyRecord(**json.loads(path.read_text())) if path.is_file() else None

    def put(self, record: LatencyRecord) -> None:
        write_text_atomic(self.dir / f"{record.key}.json", json.dumps(asdict(record), indent=1))

    def records(self) -> list[LatencyRecord]:
        return [LatencyRecord(**json.loads(p.read_text())) for p in sorted(self.dir.glob("*.json"))]


def measure_latency(cfg: EnerzaiConfig, spec: LatencySpec, cache: LatencyCache) -> LatencyRecord:
    """Latency of ``cfg`` from the cache, else exported and timed with ``bench_tflite`` (then cached)."""
    from isplab.bench import bench_tflite

    key = cache_key(cfg, spec)
    hit = cache.get(key)
    if hit is not None:
        return hit
    tflite = cache.dir / f"{key}.tflite"
    data = export_candidate(cfg, spec.input_size, tflite)
    graph = read_graph(data)
    result = bench_tflite(tflite, spec.input_size, threads=spec.threads, runs=spec.runs, warmup=spec.warmup)
    record = LatencyRecord(key, result.median_ms, list(spec.input_size), spec.threads, count_macs(graph),
                           op_costs(graph))
    cache.put(record)
    return record


@dataclass
class LatencyTable:
    """``ms = intercept + sum_t coef[t] * cost_t`` (costs from :func:`op_costs`, in millions)."""

    coef: dict[str, float]
    intercept: float
    input_size: list[int]
    threads: int

    @classmethod
    def fit(cls, records: list[LatencyRecord]) -> LatencyTable:
        """Non-negative least squares on measured records (all at one input size and thread count)."""
        from scipy.optimize import nnls

        measured = [r for r in records if r.source == "measured"]
        if len(measured) < 2:
            raise ValueError(f"a latency table needs >= 2 measured candidates, got {len(measured)}")
        if len({(tuple(r.input_size), r.threads) for r in measured}) > 1:
            raise ValueError("measured records mix input sizes or thread counts: fit one table per setting")
        ops = sorted({op for r in measured for op in r.op_costs})
        x = np.array([[r.op_costs.get(op, 0.0) / 1e6 for op in ops] + [1.0] for r in measured])
        coef, _ = nnls(x, np.array([r.ms for r in measured]))
        return cls(dict(zip(ops, coef[:-1].tolist(), strict=True)), float(coef[-1]),
                   list(measured[0].input_size), measured[0].threads)

    def predict_costs(self, costs: dict[str, float]) -> float:
        """Predicted ms; op types the table never saw contribute nothing (refit with such candidates)."""
        ms = self.intercept + sum(self.coef.get(op, 0.0) * c / 1e6 for op, c in costs.items())
        return max(ms, 1e-6)  # an all-zero fit must not break log2(ms) in the fitness

    def predict(self, cfg: EnerzaiConfig, work_dir: str | Path) -> LatencyRecord:
        spec = LatencySpec(tuple(self.input_size), self.threads)
        key = cache_key(cfg, spec)
        graph = read_graph(export_candidate(cfg, spec.input_size, Path(work_dir) / f"{key}.tflite"))
        costs = op_costs(graph)
        return LatencyRecord(key, self.predict_costs(costs), list(self.input_size), self.threads,
                             count_macs(graph), costs, source="table")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyTable:
        return cls(**data)
