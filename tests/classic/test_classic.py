"""The classical reference ISP: stage by stage, then the whole pipeline, on synthetic and real data."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from isplab.classic import (
    ClassicISP,
    apply_ccm,
    apply_white_balance,
    bilinear_demosaic,
    classic_isp,
    grey_world_gains,
    srgb_degamma,
    srgb_gamma,
    to_mosaic,
    tone_curve,
)
from isplab.metrics import psnr
from isplab.raw import bayer


def mosaic_packed(rgb: np.ndarray, cfa: str = "RGGB") -> torch.Tensor:
    """Sample an RGB image ``(H, W, 3)`` through a Bayer CFA and pack it: ``(1, 4, H/2, W/2)``.

    The per-photosite colour comes from :func:`isplab.raw.bayer.unpack` of the canonical channel colours
    (B, G, R, G) = (2, 1, 0, 1), so the test does not restate the CFA geometry.
    """
    h, w, _ = rgb.shape
    colour_tile = bayer.unpack(np.array([2, 1, 0, 1]).reshape(4, 1, 1), cfa)
    colour = np.tile(colour_tile, (h // 2, w // 2))
    mosaic = np.take_along_axis(rgb, colour[..., None], axis=2)[..., 0]
    return torch.from_numpy(bayer.pack(mosaic, cfa).astype(np.float32))[None]


def astronaut() -> np.ndarray:
    return skimage.data.astronaut().astype(np.float32) / 255.0


def test_shapes_dtype_and_range():
    packed = torch.rand(2, 4, 6, 10, generator=torch.Generator().manual_seed(0))
    out = ClassicISP()(packed)
    assert out.shape == (2, 3, 12, 20) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert bilinear_demosaic(packed.double()).dtype == torch.float64
    with pytest.raises(ValueError, match=r"\(N, 4, h, w\)"):
        bilinear_demosaic(torch.rand(4, 6, 6))


def test_flat_grey_raw_gives_grey_output():
    out = classic_isp(torch.full((1, 4, 8, 8), 0.18))
    expected = srgb_gamma(torch.tensor(0.18)).item()
    torch.testing.assert_close(out, torch.full_like(out, expected))


def test_grey_world_neutralises_a_colour_cast():
    planes = torch.tensor([0.1, 0.2, 0.4, 0.2])  # (B, G_r, R, G_b): a red cast
    packed = planes.view(1, 4, 1, 1).expand(1, 4, 8, 8)
    torch.testing.assert_close(grey_world_gains(packed), torch.tensor([[0.5, 1.0, 2.0]]))
    out = ClassicISP(gamma=False)(packed)
    torch.testing.assert_close(out, torch.full_like(out, 0.2))
    # The same correction given as fixed gains; without it the cast stays.
    torch.testing.assert_close(ClassicISP(wb_gains=(0.5, 1.0, 2.0), gamma=False)(packed), out)
    cast = ClassicISP(wb_gains=(1.0, 1.0, 1.0), gamma=False)(packed)
    assert cast[0, 0].mean() == pytest.approx(0.4) and cast[0, 2].mean() == pytest.approx(0.1)


def test_white_balance_clips_and_takes_per_image_gains():
    packed = torch.full((2, 4, 2, 2), 0.6)
    out = apply_white_balance(packed, torch.tensor([[2.0, 1.0, 1.0], [1.0, 1.0, 0.5]]))
    assert out[0, 2].max() == 1.0  # red of image 0 saturates
    assert out[1, 0].max() == pytest.approx(0.3)  # blue of image 1 halved


def test_bilinear_demosaic_reproduces_linear_ramp():
    h, w = 16, 24
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ramps = np.stack([0.01 * yy + 0.02 * xx, 0.03 * yy + 0.005 * xx + 0.1, 0.5 - 0.01 * yy - 0.01 * xx], -1)
    out = bilinear_demosaic(mosaic_packed(ramps).double())[0].numpy().transpose(1, 2, 0)
    # Interior: every pixel's 3x3 neighbourhood exists. (Samples were rounded to float32 when packed.)
    np.testing.assert_allclose(out[1:-1, 1:-1], ramps[1:-1, 1:-1], atol=1e-6)


def test_bilinear_demosaic_of_a_real_photo():
    """Linear data, demosaic alone: bilinear recovers a mosaicked photo to well above 25 dB."""
    img = astronaut()
    out = bilinear_demosaic(mosaic_packed(img))
    target = torch.from_numpy(img.transpose(2, 0, 1))[None]
    assert psnr(out, target).item() > 25.0
    # Known samples pass through unchanged.
    for (dy, dx), colour in zip(bayer.CFA.RGGB.offsets, (2, 1, 0, 1), strict=True):
        torch.testing.assert_close(out[0, colour, dy::2, dx::2], target[0, colour, dy::2, dx::2])


def test_to_mosaic_inverts_canonical_packing():
    """The bridge to kornia's demosaic: packed planes back on the RGGB grid, as ``bayer.unpack`` does."""
    packed = mosaic_packed(astronaut()[:64, :96])
    mosaic = torch.from_numpy(bayer.unpack(packed[0].numpy(), "RGGB"))
    torch.testing.assert_close(to_mosaic(packed)[0, 0], mosaic, atol=0, rtol=0)


def test_pipeline_without_gamma_is_demosaic_on_real_photo():
    packed = mosaic_packed(astronaut()[:128, :128])
    out = ClassicISP(wb_gains=(1.0, 1.0, 1.0), gamma=False)(packed)
    torch.testing.assert_close(out, bilinear_demosaic(packed).clamp(0, 1))


def test_ccm():
    rgb = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(apply_ccm(rgb, torch.eye(3)), rgb)
    swap = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    torch.testing.assert_close(apply_ccm(rgb, swap), rgb.flip(1))
    per_image = torch.stack([torch.eye(3), 2 * torch.eye(3)])
    torch.testing.assert_close(apply_ccm(rgb, per_image)[1], 2 * rgb[1])
    with pytest.raises(ValueError):
        apply_ccm(rgb, torch.eye(4))


def test_tone_stages():
    x = torch.linspace(0, 1, 101, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(srgb_degamma(srgb_gamma(x)), x.detach())
    srgb_gamma(x).sum().backward()
    assert torch.isfinite(x.grad).all()  # also at 0, where x^(1/2.4) has an infinite slope
    torch.testing.assert_close(tone_curve(x.detach(), [0.0, 1.0]), x.detach())
    assert tone_curve(torch.tensor([0.25, 0.75, 1.0]), [0.0, 0.8, 1.0]).tolist() == pytest.approx(
        [0.4, 0.9, 1.0]
    )


def test_pipeline_options_and_device_moves():
    packed = torch.rand(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    isp = ClassicISP(wb_gains=[1.5, 1.0, 2.0], ccm=torch.eye(3), exposure=2.0, curve=[0.0, 0.6, 1.0])
    assert {name for name, _ in isp.named_buffers()} == {"wb_gains", "ccm", "curve"}
    assert not list(isp.parameters())
    out = isp.double()(packed.double())
    assert out.dtype == torch.float64 and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="wb_gains"):
        ClassicISP(wb_gains=[1.0, 2.0])
