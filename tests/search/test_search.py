"""A tiny end-to-end search (CI): outputs, resume without re-evaluation, the Ray code path (faked)."""

import json
import sys
import types
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

import isplab.search.evolution as evolution
from isplab.cli import main
from isplab.errors import IsplabError
from isplab.search import run_search
from isplab.search.config import CONFIG_DIR, SearchConfig, shipped_configs
from isplab.search.pareto import pareto_front
from isplab.search.space import config_from_dict, in_bounds


@pytest.fixture(scope="module")
def tiny():
    return SearchConfig.load("enerzai_tiny")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "out"
    assert main(["search", "--config", "enerzai_tiny", "--out", str(out)]) == 0
    return out


def test_tiny_search_writes_candidates_front_and_plot(searched, tiny) -> None:
    data = json.loads((searched / "pareto.json").read_text())
    cands = data["candidates"]
    assert len(cands) == tiny.population + tiny.children_per_generation  # 3 sampled + 2 children, all distinct
    assert len({c["key"] for c in cands}) == len(cands)
    assert all(in_bounds(config_from_dict(c["config"]), tiny.space) for c in cands)
    assert {c["generation"] for c in cands} == {0, 1}
    keys0 = {c["key"] for c in cands if c["generation"] == 0}
    assert all(c["parent"] in keys0 for c in cands if c["generation"] == 1)
    for c in cands:
        assert c["ms"] > 0 and c["latency_source"] == "measured" and c["macs"] > 0 and 0 < c["psnr"] < 60
        assert c["fitness"] == pytest.approx(evolution.fitness(c["psnr"], c["ms"], tiny.target_ms,
                                                               tiny.latency_weight))
    front = pareto_front([c["psnr"] for c in cands], [c["ms"] for c in cands])
    assert [c["key"] for c in data["front"]] == [cands[i]["key"] for i in front]
    assert data["best"]["fitness"] == max(c["fitness"] for c in cands)
    svg = ET.parse(searched / "pareto.svg").getroot()
    circles = svg.findall("{http://www.w3.org/2000/svg}circle")
    assert len(circles) == len(cands) + len(front)
    assert len(list((searched / "latency_cache").glob("*.json"))) == len(cands)


def test_resume_evaluates_only_missing_candidates(searched, tiny, tmp_path, monkeypatch) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(searched, out)
    stored = json.loads((out / "candidates.json").read_text())
    dropped = stored["candidates"].pop()
    (out / "candidates.json").write_text(json.dumps(stored))
    calls = []
    real = evolution.evaluate_candidate

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(evolution, "evaluate_candidate", counting)
    result = run_search(tiny, out)
    assert len(calls) == 1 and calls[0]["config"] == dropped["config"]
    assert calls[0]["latency"] is not None  # latency came from the cache, not re-measured
    redone = next(c for c in result.candidates if c.key == dropped["key"])
    assert redone.psnr == pytest.approx(dropped["psnr"], abs=1e-6) and redone.ms == dropped["ms"]
    calls.clear()
    run_search(tiny, out)
    assert calls == []


def test_resume_refuses_other_training_settings(searched, tiny, tmp_path) -> None:
    import shutil

    shutil.copytree(searched, tmp_path / "c")
    with pytest.raises(IsplabError, match="other training/latency settings"):
        run_search(replace(tiny, train_steps=3), tmp_path / "c")


class _Ref:
    """A finished ObjectRef (hashable, like Ray's)."""

    def __init__(self, value):
        self.value = value


class FakeRay(types.ModuleType):
    """Just enough of Ray's API to run the Ray executor's code path locally (real Ray is not installed)."""

    def __init__(self):
        super().__init__("ray")
        self.addresses, self.options, self.submitted, self.waits = [], [], 0, 0

    def init(self, address=None, ignore_reinit_error=False):
        self.addresses.append(address)

    def remote(self, **options):
        self.options.append(options)
        fake = self

        def decorate(fn):
            class Task:
                def remote(self, **kwargs):
                    fake.submitted += 1
                    return _Ref(fn(**kwargs))  # executed eagerly, here

            return Task()

        return decorate

    def wait(self, refs, num_returns=1):
        self.waits += 1
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return ref.value


def test_ray_code_path_with_a_fake_ray(searched, tiny, tmp_path, monkeypatch) -> None:
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    cfg = replace(tiny, latency_cache=str(searched / "latency_cache"))  # measured latencies: reused
    result = run_search(cfg, tmp_path / "ray", ray_address="ray://head:10001")
    assert fake.addresses == ["ray://head:10001"] and fake.options == [{"num_cpus": 1.0}] * 2  # 2 generations
    assert fake.submitted == 5 and fake.waits == 5
    local = {c["key"]: c for c in json.loads((searched / "candidates.json").read_text())["candidates"]}
    assert {c.key for c in result.candidates} == set(local)  # same seeded trajectory
    for c in result.candidates:
        assert c.psnr == pytest.approx(local[c.key]["psnr"], abs=1e-6)
    assert not (tmp_path / "ray" / "runs").exists()  # remote tasks train in their own temporary folders


def test_ray_missing_is_an_actionable_error(tiny, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(IsplabError, match=r"pip install 'isplab\[ray\]'"):
        run_search(tiny, tmp_path, ray_address="auto")


def test_table_latency_mode_predicts_the_children(searched, tiny, tmp_path) -> None:
    import shutil

    from isplab.search.latency import LatencySpec, cache_key

    cache = shutil.copytree(searched / "latency_cache", tmp_path / "cache")
    spec = LatencySpec(tuple(tiny.input_size), tiny.threads)
    for c in json.loads((searched / "candidates.json").read_text())["candidates"]:
        if c["generation"] == 1:  # keep only generation 0 measured: the children must be predicted
            (cache / f"{cache_key(config_from_dict(c['config']), spec)}.json").unlink()
    result = run_search(replace(tiny, latency="table", latency_cache=str(cache)), tmp_path / "table")
    sources = {c.generation: set() for c in result.candidates}
    for c in result.candidates:
        sources[c.generation].add(c.latency_source)
    assert sources == {0: {"measured"}, 1: {"table"}}
    table = json.loads((tmp_path / "table" / "latency_table.json").read_text())
    assert table["input_size"] == list(tiny.input_size) and "CONV_2D" in table["coef"]
    assert all(c.ms > 0 for c in result.candidates)


def test_shipped_search_configs_load() -> None:
    full = SearchConfig.load("enerzai_full")
    assert full.input_size == (544, 960) and full.train.model == "enerzai" and full.train_steps == 2000
    assert shipped_configs() == ["enerzai_full", "enerzai_tiny"]
    assert SearchConfig.load(CONFIG_DIR / "enerzai_full.yml") == full  # a path loads the same file
    with pytest.raises(IsplabError, match="enerzai_huge: no such file.*one of: enerzai_full, enerzai_tiny"):
        SearchConfig.load("enerzai_huge")
    with pytest.raises(IsplabError, match="unknown key"):
        from isplab.config import from_dict

        from_dict(SearchConfig, {"populaton": 3})
