"""Visual report (isplab.develop.compare, ``isplab compare``)."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from PIL import Image

from isplab.cli import main
from isplab.develop.compare import crop_box, dataset_target
from isplab.models.weights import model_checkpoint, save_checkpoint


def test_crop_box_is_even_and_inside():
    assert crop_box((100, 200), 50, None) == (24, 74, 74, 124)
    assert crop_box((100, 200), 50, (99, 199)) == (50, 100, 150, 200)
    assert crop_box((40, 60), 384, (5, 5)) == (0, 40, 0, 60)


def test_report_for_a_dataset_pair(tmp_path, smallnet, mosaic, write_png16):
    root = tmp_path / "ultraisp"
    (root / "mediatek_raw").mkdir(parents=True)
    (root / "fujifilm").mkdir()
    raw = write_png16(root / "mediatek_raw" / "7.png", mosaic(96, 96))
    target = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    Image.fromarray(target).save(root / "fujifilm" / "7.png")
    assert dataset_target(raw) == root / "fujifilm" / "7.png"
    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, smallnet))

    out = tmp_path / "report" / "cmp.html"
    assert main(["compare", str(raw), "--weights", str(ckpt), "--out", str(out), "--crop-size", "64"]) == 0
    page = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # raw, classical ISP, the model, the target
    assert "src=\"http" not in page and "smallnet" in page and "classical ISP" in page
    crops = sorted((tmp_path / "report" / "cmp-crops").iterdir())
    assert [p.name[:3] for p in crops] == ["00-", "01-", "02-", "03-"] and "target" in crops[3].name
    assert base64.b64decode(images[3]) == crops[3].read_bytes()
    with Image.open(crops[3]) as im:  # the target crop is the centre 64x64 of the target at 100%
        np.testing.assert_array_equal(np.asarray(im), target[16:80, 16:80])


@pytest.mark.parametrize(("options", "expected"), [
    (["--out", "{tmp}"], "is a folder, not a file"),
    (["--out", "{tmp}/afile/cmp.html"], "is a file"),
    (["--crop-size", "0"], "--crop-size 0: must be >= 2"),
    (["--crop-at", "-1", "5"], "--crop-at -1 5: must be >= 0"),
    (["--tile", "0"], "--tile 0: must be >= 1"),
    (["--cfa", "XYZW"], "--cfa XYZW: unknown Bayer phase"),
])
def test_bad_out_and_options_fail_before_any_model_loads(tmp_path, monkeypatch, capsys, raising, options, expected):
    import isplab.develop.compare as compare_mod

    monkeypatch.setattr(compare_mod, "load_runner", raising(AssertionError("a model loaded before the checks")))
    (tmp_path / "afile").write_text("x")
    argv = ["compare", str(tmp_path / "shot.png"), "--out", str(tmp_path / "r" / "cmp.html"), *options]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not (tmp_path / "r").exists()  # nothing written before the error


def test_every_model_loads_before_any_panel_and_stale_temps_go(tmp_path, monkeypatch, capsys, raising, mosaic,
                                                                write_png16, stale_temp):
    import isplab.develop.compare as compare_mod

    monkeypatch.setattr(compare_mod, "develop_image", raising(AssertionError("developed before every model loaded")))
    crops = tmp_path / "r" / "cmp-crops"
    stale = [stale_temp(tmp_path / "r", "cmp.html"), stale_temp(crops, "00-raw.png")]  # an interrupted run's
    raw = write_png16(tmp_path / "shot.png", mosaic())
    assert main(["compare", str(raw), "--weights", str(tmp_path / "missing.pt"),
                 "--out", str(tmp_path / "r" / "cmp.html")]) == 2
    assert "missing.pt: checkpoint not found" in capsys.readouterr().err
    assert not any(path.exists() for path in stale)
