"""The docs are executable and their figures are the measured ones.

* Every fenced code block of README.md and docs/*.md is collected. Python blocks run (in a sandbox folder
  holding the files they name); YAML blocks are loaded as what they show (a training config, a loss list);
  every shell command line runs through ``isplab.cli.main`` in the same sandbox, unless :data:`SKIPS`
  says why not (heavy or needing a GPU/cluster; each says where the same path is tested instead). A new
  command that is neither run nor skipped fails :func:`test_every_command_is_run_or_skipped_for_a_reason`.
* The figures README.md quotes are formatted from ``benchmarks/results/*.json`` (and the weight files they
  count) and must appear verbatim: re-running a benchmark without updating the sentence fails here.
* ``docs/models.md`` is exactly what ``benchmarks/zoo_table.py`` generates from its saved JSON, and the
  README's benchmark list names every script.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from isplab.raw.bayer import CFA

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "benchmarks" / "results"

#: Shell commands not run here (matched by prefix) and why.
SKIPS = {
    "python3 -m venv .venv && .venv/bin/pip install -e \".[export]\" && .venv/bin/isplab challenge":
        "installs isplab and runs the whole challenge (~15 min); tests/challenge/test_run.py runs the tiny budget",
    'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"': "the test suite itself (.ci/run runs this line)",
    "isplab develop fast-openisp-test-1920x1080":
        "the real chart from ../shared through microisp at 2 MP; tests/camera/test_real_chart.py renders it",
    "torchrun": "multi-process training of a full recipe (hours); tests/train/test_ddp.py trains with DDP",
    "isplab sweep": "trains each model 200+ steps (minutes) or needs a Ray cluster; tests/test_sweep.py sweeps "
                    "4-step configs locally and on Ray",
    "ray start": "starts a Ray cluster node",
    "pip install": "installs extras (the test suite runs in the dev install, which holds them)",
    "isplab accel setup": "downloads the toolchains (network); tests/conftest.py's accel fixture runs the same setup",
    "python tools/mutation.py": "mutation runs take minutes to hours; tests/test_mutation_sample.py runs the seeded "
                                "sample",
    "isplab search": "a minute (enerzai_tiny) to hours, or a Ray cluster; tests/search/test_search.py searches a "
                     "tiny space",
    "isplab train --config microisp --out runs/m --device cuda":
        "needs a CUDA GPU (tests/train/test_device.py checks the one-line error without one)",
    "isplab eval --weights runs/m/checkpoints/last.pt --device cuda": "needs a CUDA GPU (and the run above)",
}
#: Python blocks not run: (file, first line) -> why.
PYTHON_SKIPS = {
    ("docs/losses.md", "import torch, torchvision"): "downloads torchvision's ImageNet weights (no network in CI)",
}


def code_blocks() -> list[tuple[str, int, str, str]]:
    """``(file relative to the repo, line, language, text)`` of every fenced block."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            found.append((str(path.relative_to(ROOT)), text[:m.start()].count("\n") + 1, m.group(1), m.group(2)))
    return found


def commands() -> list[tuple[str, int, str]]:
    """``(file, line, command)`` of every shell line (continuations joined, comments and ``[optional]``
    parts dropped) of the non-Python, non-YAML blocks."""
    found = []
    for file, line, lang, text in code_blocks():
        if lang in ("python", "yaml"):
            continue
        for i, raw in enumerate(re.sub(r"\\\n\s*", " ", text).splitlines()):
            cmd = re.sub(r"\s\[[^\]]*\]", "", raw.split("  #")[0]).strip()
            if cmd and not cmd.startswith("#"):
                found.append((file, line + 1 + i, " ".join(cmd.split())))
    return found


def skip_reason(cmd: str) -> str | None:
    return next((why for prefix, why in SKIPS.items() if cmd.startswith(prefix)), None)


def test_every_command_is_run_or_skipped_for_a_reason():
    cmds = commands()
    assert len(cmds) > 15
    for file, line, cmd in cmds:
        assert cmd.startswith("isplab ") or skip_reason(cmd), f"{file}:{line}: `{cmd}` is neither run nor skipped"
    used = {prefix for prefix in SKIPS if any(cmd.startswith(prefix) for _, _, cmd in cmds)}
    assert used == set(SKIPS), f"skips no doc uses any more: {set(SKIPS) - used}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, write_dng, write_png16):
    """A folder holding every file the docs' examples name, small: DNG frames, PNG mosaics, a headerless
    dump, checkpoints (the shipped pretrained files) and a few-shot dataset folder."""
    from isplab.data import synthesize_dataset
    from isplab.models.weights import load_checkpoint, pretrained_path, save_checkpoint

    root = tmp_path_factory.mktemp("docs")
    rng = np.random.default_rng(0)
    mosaic = rng.integers(60, 900, (256, 256))
    for name in ("frame.dng", "photo.dng", "photos/a.dng", "shots/a.dng"):
        (root / name).parent.mkdir(exist_ok=True)
        write_dng(root / name, mosaic, CFA.RGGB)
    (root / "mediatek_raw").mkdir()
    write_png16(root / "mediatek_raw" / "7.png", mosaic)
    rng.integers(0, 1024, (1080, 1920)).astype("<u2").tofile(root / "capture.raw")
    microisp, smallnet = (load_checkpoint(pretrained_path(n)) for n in ("microisp", "smallnet"))
    for name in ("runs/microisp/checkpoints/best.pt", "microisp.pt", "a.pt"):
        save_checkpoint(root / name, microisp)
    save_checkpoint(root / "model.pt", smallnet)
    synthesize_dataset(root / "new_camera_pairs", n=10, val=2, test=2, size=64, seed=4)
    shutil.copytree(root / "new_camera_pairs", root / "camera_pairs")
    write_png16(root / "shots" / "b.png", mosaic)
    write_dng(root / "chart.dng", chart_mosaic(), CFA.RGGB, black=(64,) * 4, white=1023)
    return root


def chart_mosaic() -> np.ndarray:
    """A ColorChecker seen by a camera under D65, patch centres on the docs' ``--corners`` grid (x 50..550,
    y 50..350, 100 px apart): the chart ``isplab profile`` fits in docs/camera.md."""
    from isplab.camera.colorchecker import reference_xyz

    matrix = np.array([[0.95, -0.2, -0.12], [-0.42, 1.25, 0.12], [-0.06, 0.22, 0.62]])
    camera = reference_xyz("D65") @ matrix.T
    image = np.full((400, 600, 3), 0.02)
    for i, rgb in enumerate(camera / camera[18].max() * 0.8):
        x, y = 50 + 100 * (i % 6), 50 + 100 * (i // 6)
        image[y - 30:y + 30, x - 30:x + 30] = rgb
    mosaic = image[..., 1].copy()
    mosaic[0::2, 0::2], mosaic[1::2, 1::2] = image[0::2, 0::2, 0], image[1::2, 1::2, 2]
    return np.round(64 + mosaic * (1023 - 64))


def python_block(file: str, first_line: str) -> str:
    return next(text for f, _, lang, text in code_blocks() if f == file and lang == "python"
                and text.startswith(first_line))


def run_python(file: str, first_line: str, folder: Path) -> tuple[dict, str]:
    """Execute a doc's Python block in ``folder``; its namespace and what it printed."""
    namespace, printed, cwd = {}, io.StringIO(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(python_block(file, first_line), file, "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace, printed.getvalue()


@pytest.fixture(scope="module")
def readme_example(sandbox):
    """README's Python API example run in the sandbox (its export is the .tflite the doc commands use)."""
    namespace, printed = run_python("README.md", "import torch", sandbox)
    for name in ("microisp.tflite", "b.tflite"):
        shutil.copy(sandbox / "model.tflite", sandbox / name)
    return namespace, printed


def test_readme_python_example_runs(readme_example, sandbox):
    namespace, printed = readme_example
    assert re.search(r"PSNR \d+\.\d\d dB, SSIM 0\.\d{3}", printed) and "parity" in printed
    assert tuple(namespace["rgb"].shape) == (1, 3, 256, 256) and namespace["report"].parity.passed
    assert (sandbox / "model.tflite").is_file()


@pytest.mark.parametrize("file, first_line", [("docs/pretrained.md", "import isplab"),
                                              ("docs/camera.md", "import torch")])
def test_docs_python_blocks_run(sandbox, file, first_line):
    namespace, _ = run_python(file, first_line, sandbox)
    if file == "docs/camera.md":
        assert tuple(namespace["rgb"].shape) == (1, 3, 256, 256) and namespace["record"].to_dict()


def test_every_python_block_is_run_or_skipped():
    run = {("README.md", "import torch"), ("docs/pretrained.md", "import isplab"), ("docs/camera.md", "import torch")}
    for file, line, lang, text in code_blocks():
        if lang == "python":
            key = (file, text.splitlines()[0])
            assert key in run or key in PYTHON_SKIPS, f"{file}:{line}: a Python block neither run nor skipped"


def test_yaml_blocks_are_valid_configs():
    from isplab.config import from_dict
    from isplab.losses import list_losses
    from isplab.train.config import TrainConfig

    blocks = [(f, yaml.safe_load(text)) for f, _, lang, text in code_blocks() if lang == "yaml"]
    assert blocks
    for file, data in blocks:
        if "model" in data:
            from_dict(TrainConfig, data, file)
        else:
            assert {loss["name"] for loss in data["losses"]} <= set(list_losses()), file


@pytest.mark.parametrize("cmd", [c for _, _, c in commands() if c.startswith("isplab ") and not skip_reason(c)])
def test_doc_command_runs(cmd, sandbox, readme_example, monkeypatch):
    """Each command as written (globs expanded, in order: an export precedes its use), from the sandbox."""
    from isplab.cli import main

    monkeypatch.chdir(sandbox)
    argv = [arg for token in shlex.split(cmd)[1:] for arg in (sorted(glob.glob(token)) if "*" in token else [token])]
    assert main(argv) == 0, cmd


# --- figures quoted in the docs ---------------------------------------------------------------------------


def _results(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def readme_claims() -> list[str]:
    """Sentences of README.md, each formatted from the results file it quotes."""
    official = _results("microisp_vs_official")
    hd, large = official["sizes"]["544x960"], official["sizes"]["1500x2000"]
    mem = official["memory"]["544x960"]
    sizes = {r["name"]: r["size_bytes"] for r in hd["rows"]}
    shots = _results("few_shot")["shots"]
    chart = {(r["weights"], r["neutral"] if r.get("adapt") else None): r["mean_chroma"]
             for r in _results("real_chart")["rows"] if not r["isp"].endswith("MAI domain")}
    mai = {r["neutral"]: r["mean_chroma"] for r in _results("real_chart")["rows"] if r["isp"].endswith("MAI domain")}
    weights_kib = sum(p.stat().st_size for p in (ROOT / "isplab" / "weights").glob("*.safetensors")) / 1024
    return [
        f"runs **{hd['speedup_official_over_isplab']:.2f}x faster than the official `MicroISP.tflite` at 544x960 "
        f"and {large['speedup_official_over_isplab']:.2f}x at\n1500x2000**",
        f"outputs within {large['agreement_isplab_vs_official']['max_abs_diff']:.1e}".replace("e-07", "e-7")
        + " of the official file's",
        f"peak memory {mem['isplab microisp']:.0f} MB instead\nof {mem['official MicroISP'] / 1000:.0f} GB at Full HD",
        f"a {sizes['isplab microisp'] / sizes['official MicroISP']:.1f}x bigger file",
        f"({weights_kib:.0f} KiB in all)",
        f"(1 pair: {shots['0 (pretrained, as shipped)']['psnr']:.1f} -> {shots['1']['psnr']:.1f} dB, 10 pairs: "
        f"{shots['10']['psnr']:.1f} dB",
        f"pretrained microisp {chart[('pretrained:microisp', None)]:.1f} without the adapter, "
        f"**{chart[('pretrained:microisp', 'grey-edge')]:.1f}** with it\n(grey-edge; "
        f"{chart[('pretrained:microisp', 'grey-world')]:.1f} grey-world); pretrained smallnet "
        f"{chart[('pretrained:smallnet', None)]:.1f} → {chart[('pretrained:smallnet', 'grey-edge')]:.1f}; the "
        f"classical ISP {chart[('classic', None)]:.1f}",
        f"give {chart[('MicroISP.tflite', None)]:.1f}, and {min(mai.values()):.1f} at best through the adapter",
    ]


@pytest.mark.parametrize("claim", range(len(readme_claims())))
def test_readme_figures_come_from_the_results_files(claim):
    text = (ROOT / "README.md").read_text()
    assert readme_claims()[claim] in text, f"README.md should say: {readme_claims()[claim]!r}"


def test_models_md_is_generated_from_the_zoo_table_results():
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo_table", ROOT / "benchmarks" / "zoo_table.py")
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    payload = _results("zoo_table")
    generated = zoo.docs_markdown(payload["rows"], payload["failures"]) + "\n"
    assert (ROOT / "docs" / "models.md").read_text() == generated, "stale: python benchmarks/zoo_table.py --docs-only"


def test_readme_lists_every_benchmark_script():
    text = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^- `(\w+\.py)`", text.split("## Benchmarks")[1], re.M))
    assert listed == {p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")}


def test_training_doc_schedules_match_the_recipes():
    """docs/training.md's "(N stages)" for a recipe is the stage count of that recipe's config."""
    from isplab.train.recipes import load_train_config

    table = (ROOT / "docs" / "training.md").read_text()
    found = re.findall(r"\| `(\w+)` \| `\w+` \| [^|]*\((\d+) stages\)", table)
    assert found
    for recipe, stages in found:
        assert len(load_train_config(recipe).stages) == int(stages), recipe
