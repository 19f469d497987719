"""Backends (isplab.develop.runners): TFLite (fixed-size and resized) and the classical ISP, tiled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from isplab.classic import ClassicISP, grey_world_gains
from isplab.develop.pipeline import DevelopSettings, develop_file, tile_size
from isplab.develop.runners import TfliteRunner, load_runner
from isplab.develop.tiling import run_tiled
from isplab.develop.torch_runners import ClassicRunner, TorchRunner
from isplab.errors import IsplabError
from isplab.models.weights import model_checkpoint, save_checkpoint
from isplab.raw.readers import RawImage


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """smallnet (random, scaled weights) and its fp32 .tflite exported at a fixed 32x32."""
    from isplab.export import export_tflite
    from isplab.models import create_model

    torch.manual_seed(0)
    model = create_model("smallnet").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    path = tmp_path_factory.mktemp("tflite") / "smallnet.tflite"
    export_tflite(model, path, input_size=(32, 32))
    return model, path


@pytest.mark.parametrize("resize", [False, True])
def test_tflite_runner_tiled_matches_torch_whole_frame(exported, packed, resize):
    model, path = exported
    runner = load_runner(path, resize=resize)
    assert isinstance(runner, TfliteRunner)
    assert runner.fixed_size == (None if resize else (32, 32))
    tiled = run_tiled(packed, runner, tile=40, overlap=16)
    whole = TorchRunner(model)(packed[None])[0]
    assert np.abs(tiled - whole).max() <= 1e-4


def test_a_graph_built_for_one_size_develops_at_that_size(tmp_path, packed, mosaic, write_png16):
    """isplab's optimised export (reshapes baked for one size) cannot be resized: the runner finds that out
    by trying its default tile and runs the file's own size, the same as --no-resize, instead of failing."""
    from isplab.export import export_tflite
    from isplab.models import create_model

    torch.manual_seed(0)
    path = tmp_path / "microisp_0.5-80x96.tflite"
    # trained weights: a fresh model renders one flat grey, which develop refuses to write
    assert export_tflite(create_model("microisp_0.5", pretrained=True).eval(), path, input_size=(80, 96)).rewrites
    runner = load_runner(path, tile=64)
    assert runner.fixed_size == (80, 96) and tile_size(runner, DevelopSettings(tile=64)) == (80, 96)
    frame = np.tile(packed, (1, 3, 3))[:, :130, :150]
    np.testing.assert_array_equal(run_tiled(frame, runner, tile=64, overlap=16),
                                  run_tiled(frame, load_runner(path, resize=False), tile=64, overlap=16))
    model = runner.model  # a failed resize leaves the interpreter usable at other shapes it accepts
    assert not model.resizable((1, 64, 64, 4)) and model.input_shape is None
    assert model(np.zeros((1, 80, 96, 4), np.float32)).shape == (1, 160, 192, 3)
    src = write_png16(tmp_path / "shot.png", mosaic(200, 240))
    with Image.open(develop_file(src, runner, tmp_path / "out", DevelopSettings(tile=64))) as im:
        assert im.text["isplab.settings"].startswith("tile=80x96 ")  # the tile it really ran


def test_the_probe_uses_the_tile_the_runner_will_get(exported):
    _, path = exported  # smallnet at a fixed 32x32 but resizable
    assert load_runner(path, tile=32).fixed_size == (32, 32)  # its own size: nothing to find out
    assert load_runner(path, tile=48).fixed_size is None


@pytest.mark.parametrize("entry", [b'{"camera": "x", "gamma": 2.2}', b"{not json", b"[1, 2]", b'{"neutral": 5}'])
def test_a_bad_stored_domain_is_reported_and_no_adapt_still_develops(exported, tmp_path, mosaic, write_png16,
                                                                      entry):
    from isplab.export.tflite_info import inspect_tflite
    from isplab.runtime.tflite_metadata import RAW_DOMAIN, add_metadata

    _, path = exported
    bad = tmp_path / "future.tflite"  # a newer isplab's key, broken JSON, not an object, a wrong type
    bad.write_bytes(add_metadata(path.read_bytes(), {RAW_DOMAIN: entry}))
    src = write_png16(tmp_path / "shot.png", mosaic())
    with pytest.raises(IsplabError, match="future.tflite: its stored raw domain is unusable.*--no-adapt"):
        develop_file(src, load_runner(bad), tmp_path / "a")
    assert develop_file(src, load_runner(bad), tmp_path / "b", DevelopSettings(adapt=False)).is_file()
    assert inspect_tflite(bad).raw_domain.startswith("unusable")  # inspect still shows the rest


def test_torch_runner_from_checkpoint(tmp_path, smallnet, packed):
    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, smallnet))
    runner = load_runner(ckpt)
    assert "smallnet" in runner.name
    np.testing.assert_allclose(runner(packed[None]), TorchRunner(smallnet)(packed[None]), atol=1e-6)


def test_missing_tflite_is_a_clear_error(tmp_path):
    with pytest.raises(IsplabError, match="no such .tflite file"):
        load_runner(tmp_path / "nope.tflite")


def test_classic_runner_uses_whole_frame_grey_world(packed):
    tiled = run_tiled(packed, ClassicRunner().for_image(None, packed), tile=40, overlap=16)
    tensor = torch.from_numpy(packed)[None]
    whole = ClassicISP(wb_gains=grey_world_gains(tensor)[0])(tensor)[0].numpy()
    assert np.abs(tiled - whole).max() <= 1e-5


def test_classic_runner_uses_the_files_colour_metadata(packed):
    ccm = np.array([[1.5, -0.3, -0.2], [-0.2, 1.4, -0.2], [0.0, -0.4, 1.4]])
    image = RawImage(np.zeros((140, 202), np.uint16), "RGGB", wb_gains=np.array([2.0, 1.0, 1.5]), cam_to_srgb=ccm)
    isp = ClassicRunner().for_image(image, packed).isp
    np.testing.assert_allclose(isp.wb_gains.numpy(), [2.0, 1.0, 1.5])
    np.testing.assert_allclose(isp.ccm.numpy(), ccm, rtol=1e-6)
