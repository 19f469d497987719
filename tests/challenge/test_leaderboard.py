"""Leaderboard rendering, the result JSON schema, the transcribed Table 1 and ``isplab leaderboard``."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isplab.challenge.leaderboard import SCHEMA, Leaderboard, ModelResult, load_results
from isplab.challenge.table1 import COLUMNS, TABLE1
from isplab.cli import main
from isplab.errors import IsplabError

TABLE1_COLUMNS = ("Model Size, MB", "PSNR", "SSIM", "CPU Runtime, ms", "Final Score")


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(0).random((8, 8, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def results_dir(tmp_path) -> Path:
    d = tmp_path / "results"
    _png(d / "crops" / "microisp_0.png")
    ModelResult("microisp", size_mb=0.159, psnr=23.87, ssim=0.853, cpu_runtime_ms=400.0, gpu_audit="pass",
                crops=["crops/microisp_0.png"], input_size=[544, 960], threads=2).to_json(d / "microisp.json")
    ModelResult("smallnet", size_mb=0.02, psnr=23.37, ssim=0.83, cpu_runtime_ms=100.0,
                gpu_audit="fail: 1 op").to_json(d / "smallnet.json")
    (d / "bench.json").write_text(json.dumps({"median_ms": 1.0}))  # not a result: skipped in folders
    return d


def test_table1_has_every_row():
    assert len(TABLE1) == 17 and all(len(r.cells) == len(COLUMNS) for r in TABLE1)
    teams = [r.team for r in TABLE1]
    assert teams[0] == "MiAlgo" and teams[-1] == "PyNET-V2 Mobile [23]"
    assert sum(r.is_baseline for r in TABLE1) == 3
    assert [r.team for r in TABLE1 if r.failed] == ["SKD-VSP", "CHannel Team"]
    failed = TABLE1[12]
    assert (failed.cpu_runtime_text, failed.gpu_runtime_ms, failed.final_score) == ("> 10 min", None, None)


def test_table1_matches_the_seed_report(shared_file):
    """Cell-for-cell against the report's Table 1 (tab-separated lines after its header)."""
    lines = shared_file("seed", "mai2022-learned-isp-report.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Team\tAuthor\tFramework\tModel Size"))
    rows = []
    for line in lines[start + 1:]:
        if "\t" not in line:
            break
        rows.append(tuple(line.split("\t")))
    assert rows == [r.cells for r in TABLE1]


def test_model_result_round_trip(tmp_path):
    r = ModelResult("m", psnr=23.0, cpu_runtime_ms=10.0, crops=["c/x.png"], extra={"k": 1})
    path = r.to_json(tmp_path / "sub" / "m.json")
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["framework"] == "PyTorch -> LiteRT"
    back = ModelResult.from_json(path)
    assert back.crops == [str(tmp_path / "sub" / "c" / "x.png")]  # relative to the JSON's folder
    assert ModelResult.from_dict(r.to_dict()) == r
    assert ModelResult.from_dict({"model": "m", "new_field": 2}).extra == {"new_field": 2}
    assert not list(tmp_path.glob("sub/.*.tmp"))  # atomic write left no temp file


@pytest.mark.parametrize("data, match", [
    ({"psnr": 23.0}, "missing \"model\""),
    ({"model": "m", "psnr": "23"}, "\"psnr\" must be a finite number"),
    ({"model": "m", "cpu_runtime_ms": float("nan")}, "cpu_runtime_ms"),
    ({"model": "m", "crops": "x.png"}, "crops"),
    ({"model": "m", "schema": "other/2"}, "schema"),
])
def test_model_result_validation(data, match):
    with pytest.raises(IsplabError, match=match):
        ModelResult.from_dict(data)


def test_load_results(results_dir, tmp_path):
    assert sorted(r.model for r in load_results([results_dir])) == ["microisp", "smallnet"]
    with pytest.raises(IsplabError, match="already came from"):
        load_results([results_dir, results_dir / "microisp.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(IsplabError, match="no model results"):
        load_results([tmp_path / "empty"])
    with pytest.raises(IsplabError, match="not a readable JSON"):
        load_results([results_dir / "crops" / "microisp_0.png"])
    with pytest.raises(IsplabError, match="no such result file"):
        load_results([tmp_path / "missing.json"])


def test_ranking_and_relative_scores(results_dir):
    board = Leaderboard(load_results([results_dir]))
    assert [r.model for r in board.rows] == ["smallnet", "microisp"]  # 0.5 dB worse, 4x faster: 2x score
    assert board.rows[0].relative_score == pytest.approx(2.0) and board.rows[1].relative_score == 1.0
    assert board.rows[0].final_score == pytest.approx(2 ** (2 * 23.37) / (2**40 * 100))


def test_reference_handling():
    rows = [{"model": "a", "psnr": 23.0, "cpu_runtime_ms": 10.0}]
    board = Leaderboard(rows)  # default reference absent: a note, no relative scores
    assert board.rows[0].relative_score is None and "No 'microisp' result" in board.to_markdown()
    with pytest.raises(IsplabError, match="'b' is not among"):
        Leaderboard(rows, reference="b")


def _with_classic(classic_psnr: float, micro_psnr: float) -> list[dict]:
    return [{"model": "microisp", "psnr": micro_psnr, "cpu_runtime_ms": 400.0},
            {"model": "mialgo_3conv", "psnr": 27.0, "cpu_runtime_ms": 30.0, "delta_e": 4.0},
            {"model": "classic_isp", "psnr": classic_psnr, "notes": "Menon 2007 demosaic, grey-world WB",
             "extra": {"scored_on": "embedded test photo(s) motorcycle_left"}}]


def test_reference_must_beat_the_classical_row():
    board = Leaderboard(_with_classic(20.0, 24.0))  # microisp +4 dB: the baseline is meaningful
    assert board.reference == "microisp"
    assert board.gain(next(r for r in board.rows if r.model == "mialgo_3conv")) == pytest.approx(7.0)
    board = Leaderboard(_with_classic(20.0, 21.0))  # microisp only +1 dB: the best classical-beater instead
    assert board.reference == "mialgo_3conv" and "mialgo_3conv, the best model beating" in board.to_markdown()
    board = Leaderboard(_with_classic(30.0, 21.0))  # nothing beats the classical ISP: no relative column
    assert board.reference is None and all(r.relative_score is None for r in board.rows)
    assert "compares failures" in board.to_markdown()


def test_markdown_says_what_was_scored_and_how_the_classical_row_worked():
    md = Leaderboard(_with_classic(20.0, 24.0)).to_markdown()
    assert "Scored on embedded test photo(s) motorcycle_left (never trained on)." in md
    assert "classic_isp: Menon 2007 demosaic, grey-world WB." in md
    assert "| mialgo_3conv | PyTorch -> LiteRT | — | 27.00 | — | 4.00 | +7.00 |" in md
    assert "ΔE2000" in md and "vs classical" in md


def test_markdown_has_table1_columns_and_seed_rows(results_dir):
    md = Leaderboard(load_results([results_dir])).to_markdown()
    header = next(line for line in md.splitlines() if line.startswith("| Model |"))
    for column in (*TABLE1_COLUMNS, "Relative Score", "GPU audit"):
        assert column in header
    assert "| smallnet | PyTorch -> LiteRT | 0.020 | 23.37 | 0.8300 | — | — | 100.0 |" in md
    seed_header = next(line for line in md.splitlines() if line.startswith("| Team |"))
    assert all(c in seed_header for c in COLUMNS)
    for row in TABLE1:
        assert "| " + " | ".join(row.cells) + " |" in md


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "data", "poster")]


def test_html_is_self_contained(results_dir):
    board = Leaderboard(load_results([results_dir]))
    page = board.to_html()
    parser = _Refs()
    parser.feed(page)
    assert parser.refs and all(v.startswith("data:image/png;base64,") for _, _, v in parser.refs)
    assert not parser.tags & {"link", "script", "iframe"}
    assert "url(" not in page and "@import" not in page
    assert page.count("<tr>") == 1 + 2 + 1 + len(TABLE1)  # two headers, our 2 rows, Table 1
    for column in TABLE1_COLUMNS:
        assert column in page
    assert "lillytheeticie" in page and "&gt; 10 min" in page


def test_missing_crop_is_a_warning_not_a_link(tmp_path):
    result = ModelResult("microisp", psnr=23.0, cpu_runtime_ms=1.0, crops=[str(tmp_path / "x.png")])
    board = Leaderboard([result])
    page = board.to_html()
    assert "missing image" in page and "src=" not in page
    assert board.warnings and "x.png: not found" in board.warnings[0]


def test_cli_leaderboard(results_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["leaderboard", str(results_dir), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# isplab leaderboard") and "| smallnet |" in captured.out
    assert (out / "leaderboard.md").read_text() == captured.out
    assert (out / "leaderboard.html").read_text().startswith("<!DOCTYPE html>")
    assert "](../results/crops/microisp_0.png)" in captured.out  # linked relative to the output folder
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.html", "leaderboard.md"]


def test_cli_leaderboard_errors(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such result file" in capsys.readouterr().err
    (tmp_path / "r.json").write_text(json.dumps({"schema": SCHEMA, "model": "a", "psnr": 23.0,
                                                 "cpu_runtime_ms": 5.0}))
    assert main(["leaderboard", str(tmp_path / "r.json"), "--reference", "zzz", "--out", str(tmp_path)]) == 2
    assert "'zzz' is not among" in capsys.readouterr().err


def test_markdown_names_each_models_starting_point():
    rows = _with_classic(20.0, 24.0)
    rows[0]["extra"] = {"init": "pretrained:microisp"}
    rows[1]["extra"] = {"init": "scratch"}
    md = Leaderboard(rows).to_markdown()
    assert "Initialised from microisp: pretrained:microisp (others trained from scratch)." in md
    assert "Initialised from" not in Leaderboard(_with_classic(20.0, 24.0)).to_markdown()


def test_names_from_result_files_are_never_html(tmp_path):
    """A result file anyone can write names its model `<img onerror=...>`: both pages show it as text."""
    hostile = "<img src=x onerror=alert(1)>&amp;"
    board = Leaderboard([ModelResult(model=hostile, framework="<b>x</b>", psnr=20.0, ssim=0.5, delta_e=3.0,
                                     crops=[str(tmp_path / "a.png")])], failures={"<script>y</script>": "`<i>`"})
    md = board.to_markdown()
    assert "<img" not in md and "<b>" not in md and "<script>" not in md
    assert "&lt;img src=x onerror=alert(1)>&amp;amp;" in md
    assert "- &lt;script>y&lt;/script>: `'<i>'`" in md  # an error stays in a code span it cannot close
    page = board.to_html()
    assert "<img src=x" not in page and "<script>y" not in page


def test_accelerator_verdicts_become_columns_when_results_carry_them():
    accel = {"HTP compiled": "367/367 ops, 1 partition", "HTP parity": "fp16 70.3 dB", "GPU": "fully accelerated",
             "GPU parity": "fp16 66.0 dB, fp32 140.0 dB"}
    plain = Leaderboard([ModelResult("smallnet", psnr=23.0, cpu_runtime_ms=10.0)])
    assert "HTP parity" not in plain.columns
    board = Leaderboard([ModelResult("microisp", psnr=23.0, cpu_runtime_ms=10.0, extra={"accel": accel}),
                         ModelResult("smallnet", psnr=23.0, cpu_runtime_ms=10.0)])
    md = board.to_markdown()
    assert "HTP SM8450 compiled | HTP parity | GPU runtime | GPU parity |" in md
    assert "| 367/367 ops, 1 partition | fp16 70.3 dB | fully accelerated | fp16 66.0 dB, fp32 140.0 dB |" in md
    assert md.count("| — | — | — | — |") >= 1  # a row without verdicts says so, not blank
