"""Search outputs (isplab.search.report): the Pareto front, ``pareto.json`` and the SVG scatter."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from isplab.search.candidate import Candidate
from isplab.search.report import front_of, scatter_svg, write_report

SVG = "{http://www.w3.org/2000/svg}"


def _candidate(key: str, psnr: float, ms: float, fitness: float | None) -> Candidate:
    return Candidate(key=key, config={"k": key}, generation=0, parent=None, psnr=psnr, ssim=0.8, ms=ms,
                     latency_source="measured", macs=1, params=2, train_s=3.0, fitness=fitness)


#: ``a`` fast, ``c`` accurate, ``b`` between them (on the front), ``d`` dominated by ``b``, ``e`` unscored.
CANDIDATES = [_candidate("c", 24.0, 40.0, 1.0), _candidate("d", 21.0, 25.0, 0.5), _candidate("a", 20.0, 5.0, 2.0),
              _candidate("b", 22.0, 20.0, 1.5), _candidate("e", 19.0, 50.0, None)]


def test_front_is_the_non_dominated_candidates_fastest_first():
    assert [c.key for c in front_of(CANDIDATES)] == ["a", "b", "c"]


def test_write_report_json_holds_best_front_and_every_candidate(tmp_path):
    paths = write_report(tmp_path, CANDIDATES, {"title": "tiny <search>", "seed": 3})
    assert paths == {"json": tmp_path / "pareto.json", "svg": tmp_path / "pareto.svg"}
    data = json.loads(paths["json"].read_text())
    assert data["seed"] == 3 and data["title"] == "tiny <search>"
    assert data["best"] == CANDIDATES[2].to_dict()  # highest fitness; an unscored candidate never wins
    assert [c["key"] for c in data["front"]] == ["a", "b", "c"]
    assert [c["key"] for c in data["candidates"]] == ["c", "d", "a", "b", "e"]
    root = ET.fromstring(paths["svg"].read_text())  # well-formed, the title escaped
    assert root.find(f"{SVG}text").text == "tiny <search>"


def test_scatter_draws_every_candidate_and_joins_the_front():
    front = front_of(CANDIDATES)
    root = ET.fromstring(scatter_svg(CANDIDATES, front, "t"))
    circles = root.findall(f"{SVG}circle")
    grey = [c for c in circles if c.get("fill") == "#999"]
    red = [c for c in circles if c.get("fill") == "#d62728"]
    assert len(grey) == 5 and [c.find(f"{SVG}title").text.split(":")[0] for c in red] == ["front a", "front b",
                                                                                           "front c"]
    points = [tuple(map(float, p.split(","))) for p in root.find(f"{SVG}polyline").get("points").split()]
    xs, ys = zip(*points, strict=True)
    assert list(xs) == sorted(xs) and list(ys) == sorted(ys, reverse=True)  # faster left; higher PSNR up
    assert [(float(c.get("cx")), float(c.get("cy"))) for c in red] == points
    assert all(70 <= x <= 640 - 20 and 40 <= y <= 420 - 55 for x, y in points)  # inside the plot area
