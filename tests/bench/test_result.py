"""BenchResult (isplab.bench.result): statistics, JSON round trip, rendering."""

from __future__ import annotations

import json

import pytest

from isplab.bench.result import BenchResult, summarize


def _result(**kw) -> BenchResult:
    base = dict(model="m.tflite", backend="litert-xnnpack-cpu", runtime_version="ai-edge-litert 2.3.0", threads=2,
                runs=4, warmup=1, input_shape=[1, 8, 8, 4], output_shape=[1, 16, 16, 3],
                **summarize([4.0, 1.0, 3.0, 2.0]), peak_mem_mb=12.5, process_peak_rss_mb=99.0,
                memory_method="subprocess", file_size_bytes=2_000_000)
    return BenchResult(**{**base, **kw})


def test_summarize():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s["median_ms"], s["mean_ms"], s["min_ms"], s["max_ms"]) == (2.5, 2.5, 1.0, 4.0)
    assert s["p90_ms"] == pytest.approx(3.7) and s["times_ms"] == [4.0, 1.0, 3.0, 2.0]
    assert summarize([5.0])["std_ms"] == 0.0


def test_json_round_trip(tmp_path):
    r = _result(extra={"note": 1})
    path = r.to_json(tmp_path / "r" / "bench.json")
    assert BenchResult.from_dict(json.loads(path.read_text())) == r
    assert BenchResult.from_dict({**r.to_dict(), "unknown_field": 1}) == r


def test_render():
    text = _result().render()
    assert "median           2.50 ms" in text and "12.5 MB (subprocess)" in text and "2.000 MB" in text
    profiled = _result(peak_mem_mb=None, file_size_bytes=None,
                       profile=[{"op": "aten::conv2d", "calls": 3, "self_ms": 1.5, "total_ms": 2.0}]).render()
    assert "peak memory      n/a" in profiled and "aten::conv2d" in profiled and "x3" in profiled
