"""Bad-input corpus: every CLI command over broken files, folders, configs and options.

Each case must end with exit code != 0, no traceback, one stderr line that names the file or field and the
fix, and leave every existing good file untouched (their bytes are hashed before and after).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from isplab.cli import main
from isplab.data import synthesize_dataset


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A good dataset, a good trained run and a set of broken inputs beside them."""
    root = tmp_path_factory.mktemp("corpus")
    good = synthesize_dataset(root / "good", n=6, test=2, seed=0, size=64)
    run = root / "run"
    assert main(["train", "--model", "mialgo_3conv", "--data", str(good), "--out", str(run), "--steps", "2",
                 "--batch-size", "2", "--no-progress"]) == 0
    other = root / "other_run"
    assert main(["train", "--model", "smallnet", "--data", str(good), "--out", str(other), "--steps", "1",
                 "--batch-size", "2", "--no-progress"]) == 0

    wrong_size = synthesize_dataset(root / "wrong_size", n=6, seed=1, size=64)
    Image.fromarray(np.zeros((64, 32, 3), np.uint8)).save(wrong_size / "fujifilm" / "4.png")
    orphan = synthesize_dataset(root / "orphan", n=4, seed=1, size=64)
    (orphan / "mediatek_raw" / "3.png").unlink()
    truncated = synthesize_dataset(root / "truncated", n=4, seed=1, size=64)
    data = (truncated / "mediatek_raw" / "2.png").read_bytes()
    (truncated / "mediatek_raw" / "2.png").write_bytes(data[: len(data) // 2])
    (root / "empty").mkdir()
    (root / "unknown").mkdir()
    (root / "unknown" / "photos").mkdir()
    (root / "afile.txt").write_text("not a dataset")
    (root / "garbage.pt").write_bytes(b"\x00not a checkpoint")
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    torch.save(state, root / "nan.pt")

    def config(name: str, text: str) -> str:
        (root / name).write_text(text)
        return str(root / name)

    def new(name: str) -> str:
        """A path that does not exist yet (outputs of cases that must fail before writing)."""
        return str(root / "new" / name)

    return {"root": root, "good": good, "run": run, "other": other, "wrong_size": wrong_size, "orphan": orphan,
            "truncated": truncated, "config": config, "new": new, "raw": str(good / "train" / "mediatek_raw" / "0.png")}


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".tmp"}


# (case id, argv builder, text the one error line must contain)
CASES: list[tuple[str, Callable[[dict], list[str]], str]] = [
    ("train: data folder missing", lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["root"] / "nope"),
                                              "--out", str(w["root"] / "r1")], "does not exist"),
    ("train: data is a file", lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["root"] / "afile.txt"),
                                         "--out", str(w["root"] / "r2")], "is a file, not a dataset folder"),
    ("train: empty data folder", lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["root"] / "empty"),
                                            "--out", str(w["root"] / "r3")], "empty"),
    ("train: unknown layout", lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["root"] / "unknown"),
                                         "--out", str(w["root"] / "r4")], "unknown dataset layout"),
    ("train: wrong-size target found before step 1",
     lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["wrong_size"]), "--out", str(w["root"] / "r5"),
                "--steps", "50"], "fujifilm/4.png"),
    ("train: orphan target", lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["orphan"]),
                                        "--out", str(w["root"] / "r6")], "missing partner file"),
    ("train: lr is not a number", lambda w: ["train", "--config", w["config"]("lr.yml", "model: mialgo_3conv\n"
                                                                             "optim: {lr: fast}\n"),
                                             "--out", str(w["root"] / "r7")], "optim.lr: expected a number"),
    ("train: ckpt_every 0", lambda w: ["train", "--config", w["config"]("ck.yml", "model: mialgo_3conv\n"
                                                                       "ckpt_every: 0\n"),
                                       "--out", str(w["root"] / "r8")], "ckpt_every must be >= 1"),
    ("train: negative lr", lambda w: ["train", "--config", w["config"]("neg.yml", "model: mialgo_3conv\n"
                                                                      "optim: {lr: -0.1}\n"),
                                      "--out", str(w["root"] / "r9")], "lr must be > 0"),
    ("train: val_fraction 1.5", lambda w: ["train", "--config", w["config"]("vf.yml", "model: mialgo_3conv\n"
                                                                           "data: {val_fraction: 1.5}\n"),
                                           "--out", str(w["root"] / "r10")], "val_fraction must be in (0, 1)"),
    ("train: --steps -3", lambda w: ["train", "--model", "mialgo_3conv", "--out", str(w["root"] / "r11"),
                                     "--steps", "-3"], "--steps must be >= 1"),
    ("train: --batch-size 0", lambda w: ["train", "--model", "mialgo_3conv", "--out", str(w["root"] / "r12"),
                                         "--batch-size", "0"], "--batch-size must be >= 1"),
    ("train: --out is a file", lambda w: ["train", "--model", "mialgo_3conv", "--out", str(w["root"] / "afile.txt"),
                                          "--steps", "1"], "is not a folder"),
    ("train: resume another model's run", lambda w: ["train", "--model", "mialgo_3conv", "--data", str(w["good"]),
                                                     "--out", str(w["other"]), "--steps", "5", "--resume"],
     "holds a smallnet run, not mialgo_3conv"),
    ("eval: checkpoint missing", lambda w: ["eval", "--weights", str(w["root"] / "none.pt")], "none.pt"),
    ("eval: not a checkpoint", lambda w: ["eval", "--weights", str(w["root"] / "garbage.pt")], "garbage.pt"),
    ("eval: non-finite weights", lambda w: ["eval", "--weights", str(w["root"] / "nan.pt")], "non-finite values"),
    ("eval: --batch-size 0", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                        "--batch-size", "0"], "--batch-size 0: must be >= 1"),
    ("eval: --val-fraction 1.5", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                            "--val-fraction", "1.5"], "--val-fraction 1.5: must be in (0, 1)"),
    ("eval: orphan target found before scoring", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                                            "--data", str(w["orphan"]), "--split", "all"],
     "missing partner file"),
    ("eval: --json is a folder", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                            "--json", str(w["root"])], "is a folder"),
    ("eval: --json under a file", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                             "--json", str(w["root"] / "afile.txt" / "x.json")], "is a file"),
    ("eval: no test split", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                       "--data", str(w["orphan"]), "--split", "test"], "test"),
    ("eval: truncated raw", lambda w: ["eval", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                       "--data", str(w["truncated"]), "--split", "all"], "mediatek_raw/2.png"),
    ("develop: unknown --cfa", lambda w: ["develop", w["raw"], "--weights", "classic", "--out", w["new"]("d1"),
                                          "--cfa", "XYZW"], "--cfa XYZW: unknown Bayer phase"),
    ("develop: black above white", lambda w: ["develop", w["raw"], "--weights", "classic", "--out", w["new"]("d2"),
                                              "--black", "900", "--white", "100"], "the black level must be below"),
    ("develop: --tile 0", lambda w: ["develop", w["raw"], "--weights", "classic", "--out", w["new"]("d3"),
                                     "--tile", "0"], "--tile 0: must be >= 1"),
    ("develop: --out is a file", lambda w: ["develop", w["raw"], "--weights", "classic",
                                            "--out", str(w["root"] / "afile.txt")], "is a file, not a folder"),
    ("develop: non-finite weights", lambda w: ["develop", w["raw"], "--weights", str(w["root"] / "nan.pt"),
                                               "--out", w["new"]("d4")], "non-finite values"),
    ("export: non-finite weights", lambda w: ["export", "--weights", str(w["root"] / "nan.pt"),
                                              "--out", w["new"]("e1.tflite")], "non-finite values"),
    ("export: --out is a folder", lambda w: ["export", "--model", "smallnet", "--out", str(w["root"])],
     "is a folder, not a file"),
    ("export: --fp16-budget 0", lambda w: ["export", "--model", "smallnet", "--out", w["new"]("e2.tflite"),
                                           "--precision", "fp16", "--fp16-budget", "0"],
     "--fp16-budget 0.0: a parity budget must be > 0"),
    ("compare: --crop-size 0", lambda w: ["compare", w["raw"], "--out", w["new"]("c1.html"), "--crop-size", "0"],
     "--crop-size 0: must be >= 2"),
    ("compare: --out is a folder", lambda w: ["compare", w["raw"], "--out", str(w["root"])], "is a folder"),
    ("compare: --out under a file", lambda w: ["compare", w["raw"], "--out", str(w["root"] / "afile.txt" / "c.html")],
     "is a file"),
    ("compare: non-finite weights", lambda w: ["compare", w["raw"], "--weights", str(w["root"] / "nan.pt"),
                                               "--out", w["new"]("c2.html")], "non-finite values"),
    ("bench: model missing", lambda w: ["bench", str(w["root"] / "none.tflite")], "none.tflite: no such file"),
    ("bench: --json is a folder", lambda w: ["bench", str(w["root"] / "none.tflite"), "--json", str(w["root"])],
     "is a folder, not a file"),
    ("inspect: model missing", lambda w: ["inspect", str(w["root"] / "none.tflite")], "none.tflite: no such"),
    ("inspect: not a .tflite", lambda w: ["inspect", str(w["root"] / "garbage.pt")], "not a TFLite flatbuffer"),
    ("data check: truncated raw, deep", lambda w: ["data", "check", str(w["truncated"]), "--deep"],
     "mediatek_raw/2.png"),
    ("data check: a file", lambda w: ["data", "check", str(w["root"] / "afile.txt")], "is a file"),
    ("challenge: unknown model", lambda w: ["challenge", "--out", str(w["root"] / "c1"), "--models", "nope",
                                            "--budget", "tiny"], "unknown model 'nope'"),
    ("develop: --exposure 0", lambda w: ["develop", w["raw"], "--out", w["new"]("d5"), "--exposure", "0"],
     "--exposure 0: must be a positive factor"),
    ("train: --init another model's weights", lambda w: ["train", "--model", "mialgo_3conv", "--data",
                                                         str(w["good"]), "--out", w["new"]("t1"), "--steps", "1",
                                                         "--init", "pretrained:smallnet", "--no-progress"],
     "holds smallnet weights, not mialgo_3conv"),
    ("import: source file missing", lambda w: ["import", "microisp", "--from", str(w["root"] / "none.tflite"),
                                               "--out", w["new"]("i1.pt")], "none.tflite"),
    ("import: not a TFLite file", lambda w: ["import", "microisp", "--from", str(w["root"] / "garbage.pt"),
                                             "--out", w["new"]("i2.pt")], "garbage.pt"),
    ("calibrate: non-finite weights", lambda w: ["calibrate", "--weights", str(w["root"] / "nan.pt"),
                                                 "--out", w["new"]("k1.pt")], "non-finite values"),
    ("calibrate: shipped weights in place", lambda w: ["calibrate", "--weights", "pretrained:smallnet"],
     "pass --out FILE.pt"),
    ("leaderboard: no results", lambda w: ["leaderboard", str(w["root"] / "empty"), "--out", w["new"]("l1")],
     "empty"),
    ("search: unknown config", lambda w: ["search", "--config", "nope", "--out", w["new"]("s1")], "nope"),
    ("data synth: --n 0", lambda w: ["data", "synth", "--out", w["new"]("ds1"), "--n", "0"], "cannot synthesise n=0"),
    ("adapt: more shots than pairs", lambda w: ["adapt", "--weights", "pretrained:smallnet", "--data", str(w["good"]),
                                                "--out", w["new"]("a1"), "--shots", "1000"], "--shots"),
    ("challenge: bad data", lambda w: ["challenge", "--out", str(w["root"] / "c2"), "--models", "mialgo_3conv",
                                       "--budget", "tiny", "--data", str(w["root"] / "unknown")],
     "unknown dataset layout"),
]


@pytest.mark.parametrize(("argv", "expected"), [pytest.param(a, e, id=i) for i, a, e in CASES])
def test_bad_input_is_one_clear_line_and_harms_nothing(world, capsys, argv, expected):
    before = _digest(world["root"])
    code = main(argv(world))
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    assert _names_a_fix(lines[0]), f"no fix in: {lines[0]}"
    after = _digest(world["root"])
    assert {k: v for k, v in after.items() if k in before} == before  # nothing good was modified


#: Words of the fix part of an error line ("..., got 0. Omit it for ...", "...; pass --out FILE.pt").
FIX_WORDS = ("use ", "pass ", "omit", "fix", "choose", "run ", "give", "set ", "point ", "check", "add ", "drop ",
             "remove", "re-export", "retrain", "re-train", "lower", "raise", "rename", "create", "export",
             "develop them", "train ", "initialise", "known", "expected", "must ")


def _names_a_fix(line: str) -> bool:
    """Whether an error line goes beyond the problem: a clause after it that says what to do."""
    tail = line.split(": ", 1)[-1].lower()
    return any(word in tail for word in FIX_WORDS)
