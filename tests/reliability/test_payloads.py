"""Checkpoints are data, never code: a ``.pt`` carrying a pickle payload (``__reduce__`` -> ``exec``) fed
through every way isplab loads weights is refused in one line, and the payload never runs.

The payload writes a marker file when unpickled; before isplab loaded with ``weights_only=True`` it ran
in every one of these paths (develop, eval, export, bench, compare, calibrate, adapt, import, train
``--init`` / ``--resume``, the YAML ``init`` / ``teacher`` / perceptual-weights keys, sweep and challenge
resume; since then ``accel check``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from isplab.cli import main
from isplab.data import synthesize_dataset
from isplab.models import create_model
from isplab.models.weights import model_checkpoint


class Payload:
    """Unpickles as a call to ``exec`` that writes ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('the payload ran')",)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("payloads")
    data = synthesize_dataset(root / "data", n=4, val=1, test=1, seed=0, size=64)
    marker = root / "PAYLOAD_RAN"
    state = {**model_checkpoint("mialgo_3conv", {}, create_model("mialgo_3conv")), "note": Payload(marker)}
    payload = root / "payload.pt"
    torch.save(state, payload)
    torch.save({"features.0.weight": torch.zeros(1), "x": Payload(marker)}, root / "vgg19.pth")

    def planted(folder: Path) -> Path:
        """``folder/checkpoints/last.pt`` replaced by the payload: a run to resume."""
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        shutil.copy(payload, folder / "checkpoints" / "last.pt")
        return folder

    planted(root / "run")
    planted(root / "sweep" / "runs" / "mialgo_3conv" / "run")
    planted(root / "challenge" / "models" / "mialgo_3conv" / "run")
    (root / "init.yml").write_text(f"model: mialgo_3conv\ninit: {payload}\n")
    (root / "teacher.yml").write_text(
        "model: mialgo_3conv\nstages:\n  - steps: 2\n    losses: [{name: l1}]\n"
        f"    objective: {{name: distill, kwargs: {{teacher: {payload}}}}}\n")
    (root / "vgg.yml").write_text(
        "model: mialgo_3conv\nstages:\n  - steps: 2\n"
        f"    losses: [{{name: perceptual_vgg, kwargs: {{weights: {root / 'vgg19.pth'}}}}}]\n")
    raw = str(data / "train" / "mediatek_raw" / "0.png")
    return {"root": root, "data": str(data), "payload": str(payload), "marker": marker, "raw": raw}


PATHS = {
    "develop": lambda w: ["develop", w["raw"], "--weights", w["payload"], "--out", str(w["root"] / "dev")],
    "eval": lambda w: ["eval", "--weights", w["payload"], "--data", w["data"]],
    "export": lambda w: ["export", "--weights", w["payload"], "--out", str(w["root"] / "m.tflite")],
    "bench": lambda w: ["bench", w["payload"], "--input-size", "16x16", "--runs", "1", "--warmup", "0"],
    "compare": lambda w: ["compare", w["raw"], "--weights", w["payload"], "--out", str(w["root"] / "c.html")],
    "calibrate": lambda w: ["calibrate", "--weights", w["payload"], "--out", str(w["root"] / "cal.pt")],
    "adapt": lambda w: ["adapt", "--weights", w["payload"], "--data", w["data"], "--out", str(w["root"] / "ad"),
                        "--shots", "1", "--steps", "1", "--no-progress"],
    "import (PyTorch source)": lambda w: ["import", "efficientisp", "--from", w["payload"],
                                          "--out", str(w["root"] / "imp.pt")],
    "train --init": lambda w: ["train", "--model", "mialgo_3conv", "--init", w["payload"], "--data", w["data"],
                               "--out", str(w["root"] / "t1"), "--steps", "1", "--no-progress"],
    "train --resume": lambda w: ["train", "--model", "mialgo_3conv", "--data", w["data"],
                                 "--out", str(w["root"] / "run"), "--resume", "--steps", "2", "--no-progress"],
    "YAML init": lambda w: ["train", "--config", str(w["root"] / "init.yml"), "--data", w["data"],
                            "--out", str(w["root"] / "t2"), "--steps", "1", "--no-progress"],
    "YAML teacher": lambda w: ["train", "--config", str(w["root"] / "teacher.yml"), "--data", w["data"],
                               "--out", str(w["root"] / "t3"), "--no-progress"],
    "YAML perceptual weights": lambda w: ["train", "--config", str(w["root"] / "vgg.yml"), "--data", w["data"],
                                          "--out", str(w["root"] / "t4"), "--no-progress"],
    "sweep resume": lambda w: ["sweep", "--models", "mialgo_3conv", "--budget", "tiny", "--steps", "2",
                               "--no-bench", "--data", w["data"], "--out", str(w["root"] / "sweep")],
    "accel check": lambda w: ["accel", "check", w["payload"], "--targets", "gpu", "--cache", str(w["root"] / "ac")],
    "challenge resume": lambda w: ["challenge", "--models", "mialgo_3conv", "--budget", "tiny", "--data", w["data"],
                                   "--out", str(w["root"] / "challenge"), "--no-progress"],
}


@pytest.mark.parametrize("argv", [pytest.param(a, id=i) for i, a in PATHS.items()])
def test_a_pickle_payload_never_runs_and_is_refused_in_one_line(world, capsys, argv):
    code = main(argv(world))
    err = capsys.readouterr().err
    assert not world["marker"].exists(), "the checkpoint's payload ran"
    assert code != 0 and "Traceback" not in err
    refusals = [line for line in err.splitlines() if "refused: loading it would run code" in line]
    assert refusals and "(it names exec)" in refusals[0], err
    if argv(world)[0] not in ("sweep",):  # a sweep reports each failed run after its leaderboard
        assert len([line for line in err.splitlines() if not line.startswith("warning:")]) == 1, err
