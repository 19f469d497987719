"""Outputs apart from inputs (isplab.paths): the one check, its relations, links, and every command using it."""

from __future__ import annotations

import hashlib
import os

import pytest

from isplab.cli import main
from isplab.errors import IsplabError
from isplab.paths import check_apart, overlap


def test_relations_between_outputs_and_inputs(tmp_path):
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    frame = data / "raw" / "0.png"
    frame.write_bytes(b"mosaic")
    assert overlap(frame, frame) == "is"
    assert overlap(data / "run", data) == "is inside"
    assert overlap(tmp_path, frame) == "contains"
    assert overlap(tmp_path / "elsewhere", data) is None
    assert overlap(data / "raw" / "1.png", frame) is None  # a sibling file is apart


def test_links_are_followed(tmp_path):
    model = tmp_path / "m.pt"
    model.write_bytes(b"weights")
    (tmp_path / "link.tflite").symlink_to(model)
    os.link(model, tmp_path / "hard.pt")
    (tmp_path / "shots").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "shots")
    assert overlap(tmp_path / "link.tflite", model) == "is (through a link)"
    assert overlap(tmp_path / "hard.pt", model) == "is (through a link)"
    assert overlap(tmp_path / "alias" / "x.png", tmp_path / "shots") == "is inside (through a link)"


def test_check_apart_names_both_and_the_option(tmp_path):
    model = tmp_path / "m.pt"
    model.write_bytes(b"weights")
    with pytest.raises(IsplabError) as err:
        check_apart({"--weights": model}, {"--out": model})
    assert str(err.value) == (f"{model}: the output (--out) is the input {model} (--weights); writing it would "
                              "destroy what the command reads. Choose another --out")
    check_apart({"--weights": tmp_path / "missing.pt", "--data": None}, {"--out": tmp_path / "missing.pt"})
    check_apart({"INPUT": [model]}, {"--out": [tmp_path / "m.png"], "--json": None})
    check_apart({"--weights": model}, {"--json": tmp_path})  # a file output onto a folder: the command's own check
    with pytest.raises(IsplabError, match=r"the output \(--out\) contains the input"):
        check_apart({"--weights": model}, {}, {"--out": tmp_path})


@pytest.fixture
def files(tmp_path, write_png16):
    """A 16-bit mosaic, a checkpoint file and a dataset folder: inputs commands must not overwrite."""
    import numpy as np

    from isplab.data import synthesize_dataset
    from isplab.models import create_model
    from isplab.models.weights import model_checkpoint, save_checkpoint

    shots = tmp_path / "shots"
    shots.mkdir()
    frame = write_png16(shots / "frame.png", np.random.default_rng(0).integers(0, 1020, (32, 32)))
    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, create_model("smallnet")))
    data = synthesize_dataset(tmp_path / "data", n=2, val=0, test=0, size=32)
    (tmp_path / "link.tflite").symlink_to(ckpt)
    return {"shots": shots, "frame": frame, "ckpt": ckpt, "data": data, "root": tmp_path}


def _digest(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


# (command, argv, the relation the one error line states)
COMMANDS = [
    ("develop", lambda f: ["develop", str(f["shots"]), "--weights", "classic", "--out", str(f["shots"])],
     "(--out) is the input"),
    ("export", lambda f: ["export", "--weights", str(f["ckpt"]), "--out", str(f["ckpt"])], "(--out) is the input"),
    ("export through a link",
     lambda f: ["export", "--weights", str(f["ckpt"]), "--out", str(f["root"] / "link.tflite")],
     "(--out) is (through a link) the input"),
    ("compare", lambda f: ["compare", str(f["frame"]), "--out", str(f["frame"])], "(--out) is the input"),
    ("eval", lambda f: ["eval", "--weights", str(f["ckpt"]), "--json", str(f["ckpt"])], "(--json) is the input"),
    ("bench", lambda f: ["bench", str(f["ckpt"]), "--json", str(f["ckpt"])], "(--json) is the input"),
    ("import", lambda f: ["import", "efficientisp", "--from", str(f["ckpt"]), "--out", str(f["ckpt"])],
     "(--out) is the input"),
    ("calibrate", lambda f: ["calibrate", "--weights", str(f["ckpt"]), "--out", str(f["ckpt"])], "is the input"),
    ("train", lambda f: ["train", "--model", "smallnet", "--data", str(f["data"]), "--out", str(f["data"] / "run")],
     "(--out) is inside the input"),
    ("train --init", lambda f: ["train", "--model", "smallnet", "--init", str(f["ckpt"]), "--out", str(f["root"])],
     "(--out) contains the input"),
    ("adapt", lambda f: ["adapt", "--weights", str(f["ckpt"]), "--data", str(f["data"]), "--out", str(f["data"])],
     "(--out) is the input"),
    ("data synth", lambda f: ["data", "synth", "--camera", str(f["frame"]), "--out", str(f["shots"])],
     "(--out) contains the input"),
    ("data pack", lambda f: ["data", "pack", str(f["data"]), "--out", str(f["data"] / "store")],
     "(--out) is inside the input"),
    ("challenge", lambda f: ["challenge", "--data", str(f["data"]), "--out", str(f["data"] / "c")],
     "(--out) is inside the input"),
    ("sweep", lambda f: ["sweep", "--models", "smallnet", "--data", str(f["data"]), "--out", str(f["root"])],
     "(--out) contains the input"),
    ("search", lambda f: ["search", "--config", str(f["frame"]), "--out", str(f["shots"])],
     "(--out) contains the input"),
    ("leaderboard", lambda f: ["leaderboard", str(f["shots"] / "leaderboard.md"), "--out", str(f["shots"])],
     "(--out) is the input"),
    ("profile", lambda f: ["profile", str(f["frame"]), "--corners", "1,1,9,1,9,9,1,9", "--out", str(f["frame"])],
     "(--out) is the input"),
    ("accel check", lambda f: ["accel", "check", str(f["ckpt"]), "--json", str(f["ckpt"])], "(--json) is the input"),
    ("develop --camera", lambda f: ["develop", str(f["frame"]), "--weights", "classic", "--camera",
                                    str(f["root"] / "frame.png"), "--out", str(f["root"])], "(--out) is the input"),
    ("train --camera", lambda f: ["train", "--model", "smallnet", "--camera", str(f["frame"]), "--out",
                                  str(f["shots"])], "(--out) contains the input"),
]


@pytest.mark.parametrize(("argv", "relation"), [pytest.param(a, r, id=c) for c, a, r in COMMANDS])
def test_every_writing_command_refuses_an_output_onto_its_inputs(files, capsys, argv, relation):
    (files["shots"] / "leaderboard.md").write_text("# an input of the leaderboard case")
    (files["root"] / "frame.png").write_text("black: 0\n")  # a camera profile named like develop's output
    before = _digest(files["root"])
    assert main(argv(files)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert relation in err and "writing it would destroy what the command reads. Choose another" in err, err
    assert _digest(files["root"]) == before  # nothing written, nothing created
