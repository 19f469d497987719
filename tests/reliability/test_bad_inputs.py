"""Bad-input corpus: every CLI command over broken files, folders, configs and options.

Each case must end with exit code != 0, no traceback, one stderr line that names the file or field and the
fix, and leave every existing good file untouched (their bytes are hashed before and after).

Hostile inputs are here too (issue 22): a checkpoint carrying a pickle payload, crafted checkpoint fields,
outputs pointed at inputs, YAML alias bombs, non-finite values, malformed store indexes, damaged shards,
frames too small or too large to develop. The payload in every load path: ``test_payloads.py``; an output
onto its inputs for every command: ``tests/test_paths.py``; mutated files: ``test_fuzz.py``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zlib
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
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    torch.save(state, root / "nan.pt")
    _hostile_files(root, good, run)

    def config(name: str, text: str) -> str:
        (root / name).write_text(text)
        return str(root / name)

    def new(name: str) -> str:
        """A path that does not exist yet (outputs of cases that must fail before writing)."""
        return str(root / "new" / name)

    return {"root": root, "good": good, "run": run, "other": other, "wrong_size": wrong_size, "orphan": orphan,
            "truncated": truncated, "config": config, "new": new, "raw": str(good / "train" / "mediatek_raw" / "0.png")}


class _Payload:
    def __reduce__(self):
        return exec, ("open('PAYLOAD_RAN', 'w').write('the payload ran')",)


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A 16-bit greyscale PNG that claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _hostile_files(root: Path, good: Path, run: Path) -> None:
    """The hostile inputs of issue 22 beside the broken ones."""
    from isplab.data.pack import pack_dataset
    from isplab.models import create_model
    from isplab.models.weights import model_checkpoint

    base = model_checkpoint("smallnet", {}, create_model("smallnet"))
    torch.save({**base, "note": _Payload()}, root / "payload.pt")
    for name, change in {"kw_list": {"model_kwargs": [1, 2]}, "kw_unknown": {"model_kwargs": {"foo": 3}},
                         "kw_negative": {"model_kwargs": {"channels": -4}}, "dom_list": {"raw_domain": [1, 2]},
                         "dom_str": {"raw_domain": "daylight"}, "dom_values": {"raw_domain": {"black": "dark"}}
                         }.items():
        torch.save({**base, **change}, root / f"{name}.pt")
    (root / "frames").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(np.array([[5]], np.uint16)).save(root / "frames" / "one.png")
    Image.fromarray(rng.integers(0, 1020, (1, 64)).astype(np.uint16)).save(root / "frames" / "onehigh.png")
    Image.fromarray(np.full((64, 64), 1020, np.uint16)).save(root / "frames" / "saturated.png")
    _png_header_only(root / "frames" / "huge.png", 30000, 30000)
    store = pack_dataset(good, root / "store", progress=False)
    index = json.loads((store / "index.json").read_text())

    def broken_store(name: str, change: Callable[[dict], None]) -> None:
        copy = json.loads(json.dumps(index))
        change(copy)
        shutil.copytree(store, root / name)
        (root / name / "index.json").write_text(json.dumps(copy))

    broken_store("st_no_splits", lambda i: i.pop("splits"))
    broken_store("st_no_stems", lambda i: i["splits"]["train"].pop("stems"))
    broken_store("st_layout", lambda i: i["splits"]["train"].update(layout="polaroid"))
    broken_store("st_shard_pairs", lambda i: i.update(shard_pairs=0))
    broken_store("st_counts", lambda i: i["splits"]["train"]["stems"].pop())
    broken_store("st_escape", lambda i: i["splits"]["train"]["shards"][0].update(raw="../../afile.txt"))
    shutil.copytree(store, root / "st_damaged")
    shard = root / "st_damaged" / "shards" / "train-00000.rgb.npy"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    (root / "link.tflite").symlink_to(run / "checkpoints" / "last.pt")


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
    # ---- issue 22: hostile inputs ----
    ("develop: checkpoint carrying a pickle payload", lambda w: ["develop", w["raw"], "--weights",
                                                                str(w["root"] / "payload.pt"), "--out", w["new"]("h1")],
     "refused: loading it would run code (it names exec)"),
    ("eval: model_kwargs not a mapping", lambda w: ["eval", "--weights", str(w["root"] / "kw_list.pt")],
     "model_kwargs is [1, 2], not a mapping"),
    ("eval: model_kwargs unknown key", lambda w: ["eval", "--weights", str(w["root"] / "kw_unknown.pt")],
     "has no option 'foo'"),
    ("eval: model_kwargs negative size", lambda w: ["eval", "--weights", str(w["root"] / "kw_negative.pt")],
     "cannot be built with {'channels': -4}"),
    ("develop: raw_domain a list", lambda w: ["develop", w["raw"], "--weights", str(w["root"] / "dom_list.pt"),
                                              "--out", w["new"]("h2")], "raw_domain is [1, 2], not a mapping"),
    ("develop: raw_domain a string", lambda w: ["develop", w["raw"], "--weights", str(w["root"] / "dom_str.pt"),
                                                "--out", w["new"]("h3")], "raw_domain is 'daylight', not a mapping"),
    ("calibrate: raw_domain values", lambda w: ["calibrate", "--weights", str(w["root"] / "dom_values.pt"),
                                                "--out", w["new"]("h4.pt")], "its raw_domain is unusable"),
    ("develop: output onto the input mosaic", lambda w: ["develop", str(Path(w["raw"]).parent), "--weights", "classic",
                                                         "--out", str(Path(w["raw"]).parent)],
     "the output (--out) is the input"),
    ("export: output onto the checkpoint", lambda w: ["export", "--weights", str(w["run"] / "checkpoints/last.pt"),
                                                      "--out", str(w["run"] / "checkpoints/last.pt")],
     "the output (--out) is the input"),
    ("export: output through a link to the checkpoint",
     lambda w: ["export", "--weights", str(w["run"] / "checkpoints/last.pt"), "--out", str(w["root"] / "link.tflite")],
     "the output (--out) is (through a link) the input"),
    ("compare: report onto the raw", lambda w: ["compare", w["raw"], "--out", w["raw"]],
     "the output (--out) is the input"),
    ("train: YAML alias bomb", lambda w: ["train", "--config", w["config"]("laughs.yml", _laughs(9)),
                                          "--out", w["new"]("h5")], "expands to more than 100,000 values"),
    ("train: NaN in the config", lambda w: ["train", "--config", w["config"]("nan.yml", "model: mialgo_3conv\n"
                                                                            "optim: {lr: .nan}\n"),
                                            "--out", w["new"]("h6")], "optim.lr: expected a finite number, got nan"),
    ("train: unknown key in model_kwargs", lambda w: ["train", "--config", w["config"](
        "kw.yml", "model: mialgo_3conv\nmodel_kwargs: {foo: 3}\n"), "--out", w["new"]("h7"), "--steps", "1"],
     "model 'mialgo_3conv' has no option 'foo'"),
    ("compare: 1x1 frame", lambda w: ["compare", str(w["root"] / "frames/one.png"), "--out", w["new"]("h8.html")],
     "too small to develop"),
    ("compare: 1-photosite-high frame", lambda w: ["compare", str(w["root"] / "frames/onehigh.png"),
                                                   "--out", w["new"]("h9.html")], "the frame is 0x64 photosites"),
    ("compare: 30000x30000 PNG", lambda w: ["compare", str(w["root"] / "frames/huge.png"),
                                            "--out", w["new"]("h10.html")], "PNG too large to decode safely"),
    ("compare: white-patch on a saturated frame", lambda w: ["compare", str(w["root"] / "frames/saturated.png"),
                                                             "--weights", "pretrained:smallnet", "--neutral",
                                                             "white-patch", "--out", w["new"]("h11.html")],
     "too little unsaturated signal for a white-patch estimate of its neutral; pass the neutral explicitly: "
     "--neutral B,G,R,G"),
    *[(f"train: store index {what}", lambda w, n=name: ["train", "--model", "mialgo_3conv", "--data",
                                                        str(w["root"] / n), "--out", w["new"](n), "--steps", "1"],
       f"malformed store index ({text}")
      for name, what, text in (("st_no_splits", "without splits", "no splits"),
                               ("st_no_stems", "without stems", "split 'train': stems is not a list"),
                               ("st_layout", "with an unknown layout", "split 'train': unknown layout 'polaroid'"),
                               ("st_shard_pairs", "with shard_pairs 0", "shard_pairs is 0, not a count >= 1"),
                               ("st_counts", "whose counts disagree", "split 'train': shard counts"),
                               ("st_escape", "naming a file outside it",
                                "split 'train': shard file '../../afile.txt' is not in the store's shards/ folder"))],
    ("train: damaged store shard", lambda w: ["train", "--model", "mialgo_3conv", "--data",
                                              str(w["root"] / "st_damaged"), "--out", w["new"]("h12"), "--steps", "1"],
     "train-00000.rgb.npy: contents do not match the recorded checksum"),
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


def _laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"model: *a{levels - 1}"]) + "\n"


def test_no_payload_ran(world):
    assert not (world["root"] / "PAYLOAD_RAN").exists() and not Path("PAYLOAD_RAN").exists()


#: Words of the fix part of an error line ("..., got 0. Omit it for ...", "...; pass --out FILE.pt").
FIX_WORDS = ("use ", "pass ", "omit", "fix", "choose", "run ", "give", "set ", "point ", "check", "add ", "drop ",
             "remove", "re-export", "retrain", "re-train", "lower", "raise", "rename", "create", "export",
             "develop them", "train ", "initialise", "known", "expected", "must ")


def _names_a_fix(line: str) -> bool:
    """Whether an error line goes beyond the problem: a clause after it that says what to do."""
    tail = line.split(": ", 1)[-1].lower()
    return any(word in tail for word in FIX_WORDS)


def _actions(parser):
    """Every option of every (sub)command parser."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        else:
            yield action


def test_every_float_option_takes_finite_numbers_only():
    from isplab.cli import build_parser
    from isplab.cli.args import finite_float

    actions = list(_actions(build_parser()))
    assert not [a.option_strings for a in actions if a.type is float]  # a bare float() accepts nan and inf
    assert len([a for a in actions if a.type is finite_float]) >= 12


@pytest.mark.parametrize("argv", [
    ["develop", "x.raw", "--out", "o", "--white", "nan"], ["develop", "x.raw", "--out", "o", "--black", "inf"],
    ["develop", "x.raw", "--out", "o", "--exposure", "nan"], ["compare", "x.png", "--out", "o.html", "--white", "inf"],
    ["develop", "x.raw", "--out", "o", "--neutral", "0.5,nan,1,1"],
    ["eval", "--weights", "w.pt", "--val-fraction", "nan"],
    ["export", "--model", "smallnet", "--out", "m.tflite", "--fp32-tol", "inf"],
    ["adapt", "--weights", "w.pt", "--data", "d", "--out", "o", "--lr", "nan"],
    ["import", "jmu_cvlab", "--from", "m.tflite", "--out", "m.pt", "--input-scale", "inf"],
    ["calibrate", "--weights", "w.pt", "--levels", "0.1,nan"], ["sweep", "--out", "o", "--gpus-per-task", "nan"],
])
def test_non_finite_option_values_are_refused(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "a finite number, got '" in capsys.readouterr().err.strip().splitlines()[-1]


def test_long_option_values_are_quoted_cut_short(capsys):
    with pytest.raises(SystemExit):
        main(["develop", "x.raw", "--out", "o", "--tile", "9" * 100_000])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "invalid int value" in last and len(last) < 200
