"""Visual report (isplab.develop.compare, ``isplab compare``)."""

from __future__ import annotations

import base64
import re

import numpy as np
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
