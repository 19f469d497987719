"""Latency: measured on the exported TFLite file and cached; the fitted latency table."""

import pytest

import isplab.bench
from isplab.export.tflite_info import inspect_tflite
from isplab.models.zoo.enerzai import EnerzaiConfig, LevelConfig
from isplab.search.latency import LatencyCache, LatencyRecord, LatencySpec, LatencyTable, measure_latency

TINY = EnerzaiConfig((LevelConfig(8), LevelConfig(8, attention=True)), reduction=4, skip="add")


class FakeBench:
    """Stands in for bench_tflite: counts calls, checks it gets a real TFLite file of the asked size."""

    def __init__(self):
        self.calls = []

    def __call__(self, path, input_size, threads, runs, warmup):
        info = inspect_tflite(path)
        assert list(info.inputs[0].shape) == [1, *input_size, 4]
        self.calls.append((str(path), tuple(input_size), threads))
        return type("R", (), {"median_ms": 1.5 + threads})()


def test_latency_is_measured_on_the_tflite_file_then_cached(tmp_path, monkeypatch) -> None:
    bench = FakeBench()
    monkeypatch.setattr(isplab.bench, "bench_tflite", bench)
    cache = LatencyCache(tmp_path)
    spec = LatencySpec((16, 16), threads=1, runs=2, warmup=0)
    first = measure_latency(TINY, spec, cache)
    assert len(bench.calls) == 1 and first.ms == 2.5 and first.source == "measured"
    info = inspect_tflite(bench.calls[0][0])
    assert first.macs == info.macs and first.op_costs["CONV_2D"] == info.macs  # all MACs are convolutions
    assert set(first.op_costs) == set(info.op_histogram)
    again = measure_latency(TINY, spec, LatencyCache(tmp_path))  # a fresh cache object: read from disk
    assert len(bench.calls) == 1 and again == first
    measure_latency(TINY, LatencySpec((16, 16), threads=2), cache)  # other threads: another measurement
    assert len(bench.calls) == 2


def record(key: str, costs: dict[str, float], ms: float, size=(8, 8)) -> LatencyRecord:
    return LatencyRecord(key, ms, list(size), 1, int(costs.get("CONV_2D", 0)), costs)


def test_latency_table_recovers_known_per_op_costs() -> None:
    # ms = 0.3 + 2 ms per M conv MACs + 0.5 ms per M added elements
    points = [({"CONV_2D": 1e6, "ADD": 2e6}, None), ({"CONV_2D": 3e6, "ADD": 1e6}, None),
              ({"CONV_2D": 2e6}, None), ({"CONV_2D": 5e6, "ADD": 4e6}, None)]
    records = [record(str(i), c, 0.3 + 2 * c.get("CONV_2D", 0) / 1e6 + 0.5 * c.get("ADD", 0) / 1e6)
               for i, (c, _) in enumerate(points)]
    table = LatencyTable.fit(records)
    assert table.coef == pytest.approx({"ADD": 0.5, "CONV_2D": 2.0}, abs=1e-9)
    assert table.intercept == pytest.approx(0.3, abs=1e-9)
    assert table.predict_costs({"CONV_2D": 4e6, "ADD": 2e6}) == pytest.approx(9.3)
    assert LatencyTable.from_dict(table.to_dict()) == table


def test_latency_table_refuses_mixed_or_too_few_measurements() -> None:
    with pytest.raises(ValueError, match=">= 2"):
        LatencyTable.fit([record("a", {"CONV_2D": 1.0}, 1.0)])
    with pytest.raises(ValueError, match="mix"):
        LatencyTable.fit([record("a", {"CONV_2D": 1.0}, 1.0), record("b", {"CONV_2D": 2.0}, 2.0, size=(4, 4))])
