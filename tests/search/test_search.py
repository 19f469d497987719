"""A tiny end-to-end search (CI): outputs, resume without re-evaluation, candidates as tasks on a real Ray runtime."""

import json
import sys
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


def test_ray_search_gives_the_local_front(searched, tiny, tmp_path, ray_runtime) -> None:
    """`isplab search --ray local` on a real Ray runtime: the same seeded trajectory and Pareto front."""
    from isplab.config import dump_yaml

    config = tmp_path / "tiny.yml"  # measured latencies reused, so the front depends on training alone
    config.write_text(dump_yaml(replace(tiny, latency_cache=str(searched / "latency_cache"))))
    assert main(["search", "--config", str(config), "--out", str(tmp_path / "ray"), "--ray", "local"]) == 0
    local, ray = (json.loads((d / "pareto.json").read_text()) for d in (searched, tmp_path / "ray"))
    by_key = {c["key"]: c for c in local["candidates"]}  # tasks finish in any order
    assert sorted(c["key"] for c in ray["candidates"]) == sorted(by_key)
    for c in ray["candidates"]:
        assert c["psnr"] == pytest.approx(by_key[c["key"]]["psnr"], abs=1e-6) and c["ms"] == by_key[c["key"]]["ms"]
    assert [c["key"] for c in ray["front"]] == [c["key"] for c in local["front"]]
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
