"""Grey-patch chroma of the real test chart (isplab.camera.chart): the measurement on synthetic images with
known patch colours, and the classical ISP's rendering of the real frame (``../shared``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.camera.chart import CHART_FILE, CHART_HEIGHT, CHART_WIDTH, GREY_PATCHES, grey_patch_chroma, patch_boxes

#: CIELAB (D65) of sRGB red (1, 0, 0) and of sRGB grey 0.5: reference values.
RED_LAB, GREY_L = (53.2408, 80.0925, 67.2032), 53.3889
#: C*ab of an exact sRGB grey in skimage's rgb2lab: its D65 white and sRGB matrix round to ~0.005.
GREY_FLOOR = 0.01


def chart_image(colours: np.ndarray, background: tuple[float, float, float] = (0.0, 1.0, 0.0),
                shape: tuple[int, int] = (CHART_HEIGHT, CHART_WIDTH)) -> np.ndarray:
    """``(H, W, 3)``: ``background`` everywhere, patch ``i``'s box filled with ``colours[i]``."""
    image = np.empty((*shape, 3))
    image[:] = background
    for (y0, y1, x0, x1), colour in zip(patch_boxes(shape), colours, strict=True):
        image[y0:y1, x0:x1] = colour
    return image


def test_boxes_are_18_disjoint_and_inside_the_frame():
    boxes = patch_boxes()
    assert len(boxes) == len(GREY_PATCHES) == 18
    mask = np.zeros((CHART_HEIGHT, CHART_WIDTH), dtype=int)
    for y0, y1, x0, x1 in boxes:
        assert 0 <= y0 < y1 <= CHART_HEIGHT and 0 <= x0 < x1 <= CHART_WIDTH
        mask[y0:y1, x0:x1] += 1
    assert mask.max() == 1


def test_grey_patches_have_zero_chroma_whatever_the_background():
    result = grey_patch_chroma(chart_image(np.linspace(0.1, 0.9, 18)[:, None].repeat(3, axis=1)))
    assert result["max_chroma"] < GREY_FLOOR
    assert result["L"] == sorted(result["L"])  # darkest patch first


def test_known_colours_give_their_exact_chroma_at_any_scale_and_layout():
    colours = np.array([(1.0, 0.0, 0.0) if i % 2 else (0.5, 0.5, 0.5) for i in range(18)])
    red = float(np.hypot(RED_LAB[1], RED_LAB[2]))  # 104.55
    for shape in ((CHART_HEIGHT, CHART_WIDTH), (CHART_HEIGHT // 2, CHART_WIDTH // 2)):
        image = chart_image(colours, shape=shape)
        for layout in (image, image.transpose(2, 0, 1)):
            result = grey_patch_chroma(layout)
            assert result["chroma"][1::2] == pytest.approx([red] * 9, abs=GREY_FLOOR)
            assert result["chroma"][0::2] == pytest.approx([0.0] * 9, abs=GREY_FLOOR)
            assert result["mean_chroma"] == pytest.approx(red / 2, abs=GREY_FLOOR)
            assert result["max_chroma"] == pytest.approx(red, abs=GREY_FLOOR)
            assert result["mean_L"] == pytest.approx((RED_LAB[0] + GREY_L) / 2, abs=1e-3)


def test_values_outside_0_1_are_clipped_and_bad_shapes_refused():
    colours = np.full((18, 3), 0.5)
    assert grey_patch_chroma(chart_image(colours) * 3)["mean_L"] == pytest.approx(100.0, abs=1e-3)
    with pytest.raises(ValueError, match="RGB image"):
        grey_patch_chroma(np.zeros((CHART_HEIGHT, CHART_WIDTH)))


@pytest.mark.slow
def test_classical_isp_renders_the_real_chart_grey(shared_file):
    from isplab.camera.chart import read_chart
    from isplab.classic import ClassicISP

    raw = read_chart(shared_file("data", "real-raw", CHART_FILE))
    rgb = ClassicISP()(torch.from_numpy(raw.packed())[None])[0].numpy()  # grey-world gains, whole frame
    assert rgb.shape == (3, CHART_HEIGHT, CHART_WIDTH)
    result = grey_patch_chroma(rgb)
    assert result["mean_chroma"] <= 6.0
    assert 20 < result["mean_L"] < 90
