"""The classical reference ISP: stage by stage against colour-demosaicing and known inputs, then whole."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import skimage.data
import torch

from isplab.classic import (
    ClassicISP,
    apply_ccm,
    apply_white_balance,
    auto_exposure,
    classic_isp,
    demosaic,
    grey_world_gains,
    to_mosaic,
    tone_curve,
    white_patch_gains,
)
from isplab.colour import smoothstep, srgb_degamma, srgb_gamma
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


def colour_demosaicing():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour_demosaicing

    return colour_demosaicing


# ---- demosaic ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "reference"), [("menon", "demosaicing_CFA_Bayer_Menon2007"),
                                                   ("malvar", "demosaicing_CFA_Bayer_Malvar2004"),
                                                   ("bilinear", "demosaicing_CFA_Bayer_bilinear")])
def test_demosaic_equals_colour_demosaicing(method, reference):
    img = astronaut()[100:164, 200:296]
    packed = mosaic_packed(img)
    mosaic = bayer.unpack(packed[0].numpy(), "RGGB").astype(np.float64)
    expected = getattr(colour_demosaicing(), reference)(mosaic, "RGGB").transpose(2, 0, 1)
    out = demosaic(packed.double(), method)[0].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_menon_beats_bilinear_on_a_real_photo():
    img = astronaut()
    target = torch.from_numpy(img.transpose(2, 0, 1))[None]
    packed = mosaic_packed(img)
    scores = {m: psnr(demosaic(packed, m).clamp(0, 1), target).item() for m in ("bilinear", "menon")}
    assert scores["bilinear"] > 25 and scores["menon"] > scores["bilinear"] + 3


def test_to_mosaic_inverts_canonical_packing():
    packed = mosaic_packed(astronaut()[:64, :96])
    mosaic = torch.from_numpy(bayer.unpack(packed[0].numpy(), "RGGB"))
    torch.testing.assert_close(to_mosaic(packed)[0, 0], mosaic, atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"\(N, 4, h, w\)"):
        to_mosaic(torch.rand(4, 6, 6))
    with pytest.raises(ValueError, match="unknown demosaic"):
        demosaic(packed, "ahd")


# ---- white balance ------------------------------------------------------------------------------------


def test_grey_world_neutralises_a_colour_cast():
    planes = torch.tensor([0.1, 0.2, 0.4, 0.2])  # (B, G_r, R, G_b): a red cast
    packed = planes.view(1, 4, 1, 1).expand(1, 4, 8, 8)
    torch.testing.assert_close(grey_world_gains(packed), torch.tensor([[0.5, 1.0, 2.0]]))
    out = ClassicISP(gamma=False, tone=None)(packed)
    torch.testing.assert_close(out, torch.full_like(out, 0.2))
    torch.testing.assert_close(ClassicISP(wb_gains=(0.5, 1.0, 2.0), gamma=False, tone=None)(packed), out)


def test_white_patch_takes_the_brightest_unclipped_pixels_as_white():
    packed = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.3
    packed[:, :, 0, 0] = torch.tensor([0.4, 0.8, 0.6, 0.8])  # a white patch under a warm light
    packed[:, :, 0, 1] = 1.0  # and a clipped pixel, ignored
    gains = white_patch_gains(packed, percentile=100)
    torch.testing.assert_close(gains, torch.tensor([[0.8 / 0.6, 1.0, 0.8 / 0.4]]))


def test_white_balance_clips_and_takes_per_image_gains():
    packed = torch.full((2, 4, 2, 2), 0.6)
    out = apply_white_balance(packed, torch.tensor([[2.0, 1.0, 1.0], [1.0, 1.0, 0.5]]))
    assert out[0, 2].max() == 1.0  # red of image 0 saturates
    assert out[1, 0].max() == pytest.approx(0.3)  # blue of image 1 halved


# ---- colour, exposure, tone ---------------------------------------------------------------------------


def test_ccm():
    rgb = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(apply_ccm(rgb, torch.eye(3)), rgb)
    swap = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    torch.testing.assert_close(apply_ccm(rgb, swap), rgb.flip(1))
    per_image = torch.stack([torch.eye(3), 2 * torch.eye(3)])
    torch.testing.assert_close(apply_ccm(rgb, per_image)[1], 2 * rgb[1])
    with pytest.raises(ValueError):
        apply_ccm(rgb, torch.eye(4))


def test_auto_exposure_brings_the_mean_to_middle_grey():
    linear = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 0.05
    gains = auto_exposure(linear)
    luma = torch.tensor([0.2126, 0.7152, 0.0722]).view(1, 3, 1, 1)
    means = ((linear * gains.view(-1, 1, 1, 1)) * luma).sum(1).mean(dim=(1, 2))
    torch.testing.assert_close(means, torch.full((2,), 0.18))
    assert auto_exposure(torch.zeros(1, 3, 2, 2)).item() == 8.0  # black frames: capped, not infinite


def test_tone_stages():
    x = torch.linspace(0, 1, 101, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(srgb_degamma(srgb_gamma(x)), x.detach())
    srgb_gamma(x).sum().backward()
    assert torch.isfinite(x.grad).all()  # also at 0, where x^(1/2.4) has an infinite slope
    torch.testing.assert_close(tone_curve(x.detach(), [0.0, 1.0]), x.detach())
    assert tone_curve(torch.tensor([0.25, 0.75, 1.0]), [0.0, 0.8, 1.0]).tolist() == pytest.approx([0.4, 0.9, 1.0])


# ---- the whole pipeline ------------------------------------------------------------------------------


def test_flat_grey_raw_gives_grey_output():
    out = classic_isp(torch.full((1, 4, 8, 8), 0.18), tone=None)
    torch.testing.assert_close(out, torch.full_like(out, srgb_gamma(torch.tensor(0.18)).item()))
    curved = classic_isp(torch.full((1, 4, 8, 8), 0.18))
    torch.testing.assert_close(curved, smoothstep(out))


def test_inverts_a_known_camera_exactly_on_flat_colours():
    """A raw made by a known camera (gains, matrix, exposure) and developed with those: the scene back."""
    from isplab.data.camera import CameraFamily

    camera = CameraFamily()
    scene = torch.tensor([0.2, 0.35, 0.5]).view(1, 3, 1, 1).expand(1, 3, 8, 8)  # linear sRGB
    cam = torch.einsum("ij,njhw->nihw", torch.from_numpy(camera.nominal_srgb_to_cam).float(), scene)
    gains = torch.tensor([2.0, 1.0, 1.6])
    raw = bayer.pack_rgb(cam / gains.view(1, 3, 1, 1) / 1.25)
    isp = ClassicISP(wb_gains=gains, ccm=camera.nominal_cam_to_srgb, exposure=1.25, tone=None)
    torch.testing.assert_close(isp(raw), srgb_gamma(scene), atol=1e-5, rtol=0)


def test_pipeline_options_describe_and_device_moves():
    packed = torch.rand(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    isp = ClassicISP(wb_gains=[1.5, 1.0, 2.0], ccm=torch.eye(3), exposure=2.0, tone=[0.0, 0.6, 1.0],
                     demosaic="malvar", ccm_source="camera.json")
    assert {name for name, _ in isp.named_buffers()} == {"wb_gains", "ccm", "curve"}
    assert not list(isp.parameters())
    out = isp.double()(packed.double())
    assert out.dtype == torch.float64 and 0 <= out.min() and out.max() <= 1
    assert isp.describe() == ("Malvar 2004 demosaic, given WB gains, camera CCM (camera.json), exposure x2.00, "
                              "sRGB + tone curve; no denoising")
    assert ClassicISP(exposure=None).describe().startswith("Menon 2007 (DDFAPD) demosaic, grey-world WB, no CCM, "
                                                           "auto exposure, sRGB + S-curve")
    with pytest.raises(ValueError, match="wb_gains"):
        ClassicISP(wb_gains=[1.0, 2.0])
    with pytest.raises(ValueError, match="white balance"):
        ClassicISP(white_balance="retinex")


def test_raw_visualisation_shows_r_mean_g_b_with_gamma():
    from isplab.classic.visualise import raw_visualisation

    packed = torch.stack([torch.full((2, 3), v) for v in (0.09, 0.2, 0.5, 0.6)])  # B, G_r, R, G_b
    packed[2, 0, 0] = 1.7  # clipped
    packed[0, 0, 0] = -0.1  # below black: shown black
    view = raw_visualisation(packed)
    assert view.shape == (3, 4, 6)
    expected = torch.tensor([0.5, 0.4, 0.09]) ** (1 / 2.2)  # R, mean of the greens, B
    torch.testing.assert_close(view[:, 3, 5], expected)
    assert torch.equal(view[:, 0, 0], view[:, 1, 1]) and view[0, 0, 0].item() == 1.0  # nearest 2x; clipped red
    assert view[2, 0, 0].item() == 0.0
    assert torch.equal(view[:, 2:, 2:], view[:, 2:, 2:4].repeat(1, 1, 2))


def test_tone_curve_clips_keeps_dtype_and_names_a_bad_curve():
    x = torch.tensor([-0.5, 0.0, 0.5, 1.0, 1.5], dtype=torch.float64)
    out = tone_curve(x, [0.1, 0.7, 0.9])
    assert out.dtype == torch.float64 and out.tolist() == pytest.approx([0.1, 0.1, 0.7, 0.9, 0.9], abs=1e-12)
    for bad, shape in (([0.5], r"\(1,\)"), ([[0.0, 1.0], [0.0, 1.0]], r"\(2, 2\)")):
        with pytest.raises(ValueError, match=rf"a tone curve is a 1-D list of >= 2 values, got shape {shape}"):
            tone_curve(x, bad)


def test_auto_exposure_meters_the_clipped_image_in_its_dtype():
    """Highlights above 1 count as 1 (what the output can show): a blown sky does not darken the frame."""
    colour = torch.tensor([0.2, 0.09, 0.03], dtype=torch.float64).view(1, 3, 1, 1)
    luma = 0.2126 * 0.2 + 0.7152 * 0.09 + 0.0722 * 0.03
    linear = colour.expand(1, 3, 4, 4).clone()
    linear[..., 0, :] = 5.0  # a quarter of the frame far over white
    gain = auto_exposure(linear)
    assert gain.dtype == torch.float64
    assert gain.item() == pytest.approx(0.18 / (0.25 * 1.0 + 0.75 * luma), rel=1e-12)
    linear[..., 0, :] = -1.0  # negative noise counts as black
    assert auto_exposure(linear).item() == pytest.approx(0.18 / (0.75 * luma), rel=1e-12)


def test_pipeline_errors_and_buffers_name_what_was_wrong():
    with pytest.raises(ValueError, match="unknown demosaic method 'ahd'; use one of menon, malvar, bilinear"):
        ClassicISP(demosaic="ahd")
    with pytest.raises(ValueError, match="unknown white balance 'retinex'; use one of grey_world, white_patch"):
        ClassicISP(white_balance="retinex")
    with pytest.raises(ValueError, match="unknown tone curve 'filmic'; use 'smoothstep', None or a list of values"):
        ClassicISP(tone="filmic")
    with pytest.raises(ValueError, match=r"^ccm must have shape \(3, 3\), got \(3,\)"):
        ClassicISP(ccm=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^wb_gains must have shape \(3,\), got \(2,\)"):
        ClassicISP(wb_gains=[1.0, 2.0])
    isp = ClassicISP(wb_gains=np.array([2.0, 1.0, 1.5]), ccm=np.eye(3), tone=np.array([0.0, 1.0]))
    assert isp.wb_gains.dtype == isp.ccm.dtype == isp.curve.dtype == torch.float32  # float64 arrays in
    with pytest.raises(ValueError, match=r"demosaic method 'ahd'; use one of menon, malvar, bilinear"):
        demosaic(torch.zeros(1, 4, 4, 4), "ahd")
    with pytest.raises(ValueError, match=r"need rgb \(N, 3, H, W\), got \(3, 2, 2\)"):
        apply_ccm(torch.zeros(3, 2, 2), torch.eye(3))
    with pytest.raises(ValueError, match=r"packed raw must be \(N, 4, h, w\), got shape \(1, 3, 4, 4\)"):
        to_mosaic(torch.zeros(1, 3, 4, 4))  # 3 planes are not a packed raw


def test_describe_says_what_the_pipeline_did():
    assert ClassicISP(ccm=torch.eye(3)).describe() == ("Menon 2007 (DDFAPD) demosaic, grey-world WB, camera CCM, "
                                                        "exposure x1.00, sRGB + S-curve; no denoising")
    assert ClassicISP(tone=None, gamma=False, white_balance="white_patch").describe() == (
        "Menon 2007 (DDFAPD) demosaic, white-patch WB, no CCM, exposure x1.00, linear; no denoising")


def test_pipeline_equals_its_stages_composed():
    """The whole ISP is exactly its stages in order: clip the raw, white balance, demosaic (the chosen
    method), CCM, exposure, clip, sRGB; out-of-range raws and a CCM with negative terms exercise the clips."""
    g = torch.Generator().manual_seed(9)
    packed = torch.rand(2, 4, 8, 8, generator=g, dtype=torch.float64) * 1.6 - 0.3
    gains, ccm = torch.tensor([1.8, 1.0, 1.4]), torch.tensor([[1.6, -0.4, -0.2], [-0.3, 1.5, -0.2], [0.0, -0.5, 1.5]])
    isp = ClassicISP(wb_gains=gains, ccm=ccm, exposure=3.0, demosaic="bilinear", tone=None).double()
    stages = apply_ccm(demosaic(apply_white_balance(packed.clamp(0, 1), gains.double()), "bilinear"), ccm.double())
    torch.testing.assert_close(isp(packed), srgb_gamma((stages * 3.0).clamp(0, 1)), rtol=0, atol=1e-12)
    balanced = apply_white_balance(packed.clamp(0, 1), [1.1, 1.0, 1.3])  # float64 gains stay float64
    exact = torch.tensor([1.3, 1.0, 1.1, 1.0], dtype=torch.float64).view(1, 4, 1, 1)  # B, G_r, R, G_b
    torch.testing.assert_close(balanced, (packed.clamp(0, 1) * exact).clamp(0, 1), rtol=0, atol=1e-15)


def test_auto_exposure_in_the_pipeline_is_per_image():
    dark, bright = torch.full((1, 4, 8, 8), 0.03), torch.full((1, 4, 8, 8), 0.06)  # gains 6 and 3
    out = ClassicISP(exposure=None, tone=None, gamma=False)(torch.cat([dark, bright]))
    luma = torch.tensor([0.2126, 0.7152, 0.0722]).view(1, 3, 1, 1)
    torch.testing.assert_close((out * luma).sum(1).mean(dim=(1, 2)), torch.full((2,), 0.18))  # both brought to 18%


def test_white_patch_ignores_clipped_photosites_and_falls_back_to_gain_one():
    packed = torch.full((1, 4, 4, 4), 0.5)
    packed[:, 2] = 0.98  # the red plane is all at the clip level: saturated, no estimate
    packed[:, 0, 0, 0] = 0.25  # blue: one darker photosite
    gains = white_patch_gains(packed, percentile=50.0)
    # red: no unclipped photosite -> its white falls back to 1.0 (gain 0.5 against green's 0.5 white)
    torch.testing.assert_close(gains, torch.tensor([[0.5, 1.0, 1.0]]))


def test_linear_output_is_clipped_and_defaults_are_the_documented_ones():
    g = torch.Generator().manual_seed(10)
    packed = torch.rand(1, 4, 8, 8, generator=g, dtype=torch.float64)
    ccm = torch.tensor([[1.6, -0.4, -0.2], [-0.3, 1.5, -0.2], [0.0, -0.5, 1.5]])  # float32, as the ISP keeps it
    linear = ClassicISP(wb_gains=[1.0, 1.0, 1.0], ccm=ccm, exposure=3.0, tone=None, gamma=False).double()(packed)
    stages = apply_ccm(demosaic(packed, "menon"), ccm.double()) * 3.0
    assert stages.min() < 0 and stages.max() > 1  # so the clip is visible
    torch.testing.assert_close(linear, stages.clamp(0, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(demosaic(packed), demosaic(packed, "menon"), rtol=0, atol=0)  # Menon by default
    hot = packed * 1.6  # over white; gains below 1 must not bring clipped photosites back
    halved = ClassicISP(wb_gains=[0.5, 1.0, 0.5], tone=None, gamma=False).double()(hot)
    expected = demosaic(apply_white_balance(hot.clamp(0, 1), [0.5, 1.0, 0.5]), "menon").clamp(0, 1)
    torch.testing.assert_close(halved, expected, rtol=0, atol=1e-12)
    assert apply_white_balance(torch.full((1, 4, 2, 2), -0.2), [2.0, 1.0, 2.0]).min().item() == 0.0
    ramp = torch.linspace(0, 0.9, 400).view(1, 1, 20, 20).expand(1, 4, 20, 20).clone()
    ramp[:, 0] *= 0.5  # blue at half the level ...
    ramp[0, 0, -1, -2:] = 0.95  # ... but for two hot photosites above its 99th percentile (not clipped)
    white = torch.quantile(ramp[0, 1].flatten(), 0.99)  # green's 99th percentile (red's is the same)
    blue = torch.quantile(ramp[0, 0].flatten(), 0.99)
    assert blue < 0.5 * 0.9 + 1e-6 and white < 0.9
    torch.testing.assert_close(white_patch_gains(ramp), torch.tensor([[1.0, 1.0, float(white / blue)]]))
