"""isplab.metrics against scikit-image (SSIM, PSNR) and pytorch-msssim (MS-SSIM) on real photos."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytorch_msssim
import skimage.data
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from isplab.errors import IsplabError
from isplab.metrics import MetricAccumulator, ms_ssim, psnr, ssim

PHOTOS = ("astronaut", "chelsea", "coffee")
DISTORTIONS = ("noise", "blur", "noise+blur")


def photo(name: str) -> np.ndarray:
    """A real RGB photo (H, W, 3) as float64 in [0, 1]."""
    return getattr(skimage.data, name)().astype(np.float64) / 255.0


def distort(img: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    out = img
    if "noise" in kind:
        out = out + np.random.default_rng(seed).normal(0.0, 0.05, img.shape)
    if "blur" in kind:
        out = gaussian_filter(out, sigma=(1.5, 1.5, 0))
    return np.clip(out, 0.0, 1.0)


def to_tensor(img: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(H, W, 3) numpy -> (1, 3, H, W) torch."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(dtype)


@pytest.fixture(scope="module", params=[(p, d) for p in PHOTOS for d in DISTORTIONS], ids=str)
def pair(request) -> tuple[np.ndarray, np.ndarray]:
    name, kind = request.param
    ref = photo(name)
    return distort(ref, kind), ref


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssim_matches_skimage(pair, dtype):
    pred, target = pair
    expected = structural_similarity(pred, target, data_range=1.0, channel_axis=2)
    got = ssim(to_tensor(pred, dtype), to_tensor(target, dtype)).item()
    assert abs(got - expected) < 1e-4
    if dtype == torch.float64:  # same arithmetic as scikit-image: agreement to rounding
        assert abs(got - expected) < 1e-8


def test_psnr_matches_skimage(pair):
    pred, target = pair
    expected = peak_signal_noise_ratio(target, pred, data_range=1.0)
    assert abs(psnr(to_tensor(pred), to_tensor(target)).item() - expected) < 1e-5
    pred32, target32 = to_tensor(pred, torch.float32), to_tensor(target, torch.float32)
    assert abs(psnr(pred32, target32).item() - expected) < 1e-4


def test_batch_metrics_are_per_image_means():
    """Official protocol: score each image, then average (not one PSNR of the pooled MSE)."""
    size = 256
    targets = [photo(n)[:size, :size] for n in PHOTOS]
    preds = [distort(t, k, seed=i) for i, (t, k) in enumerate(zip(targets, DISTORTIONS, strict=True))]
    batch_p = torch.cat([to_tensor(p) for p in preds])
    batch_t = torch.cat([to_tensor(t) for t in targets])

    pairs = list(zip(preds, targets, strict=True))
    psnrs = [peak_signal_noise_ratio(t, p, data_range=1.0) for p, t in pairs]
    ssims = [structural_similarity(p, t, data_range=1.0, channel_axis=2) for p, t in pairs]

    np.testing.assert_allclose(psnr(batch_p, batch_t, reduction="none").numpy(), psnrs, atol=1e-5)
    np.testing.assert_allclose(ssim(batch_p, batch_t, reduction="none").numpy(), ssims, atol=1e-8)
    assert psnr(batch_p, batch_t).item() == pytest.approx(np.mean(psnrs), abs=1e-5)
    assert ssim(batch_p, batch_t).item() == pytest.approx(np.mean(ssims), abs=1e-8)
    pooled = 10 * math.log10(1.0 / np.mean([((p - t) ** 2).mean() for p, t in pairs]))
    assert abs(psnr(batch_p, batch_t).item() - pooled) > 1e-3  # the two protocols really differ here


def test_identical_images():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert math.isinf(psnr(x, x).item())
    assert psnr(x[0], x[0] * 0.5).ndim == 0  # a single (C, H, W) image is accepted


def test_ssim_is_differentiable():
    target = to_tensor(photo("astronaut")[:64, :64], torch.float32)
    pred = (target + 0.05 * torch.randn_like(target)).clamp(0, 1).requires_grad_(True)
    ssim(pred, target).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_ms_ssim_matches_pytorch_msssim():
    target = to_tensor(photo("coffee")[:200, :200], torch.float32)
    pred = to_tensor(distort(photo("coffee")[:200, :200], "noise+blur"), torch.float32)
    expected = pytorch_msssim.ms_ssim(pred, target, data_range=1.0)
    assert ms_ssim(pred, target).item() == pytest.approx(expected.item(), abs=1e-6)
    assert ms_ssim(pred, pred).item() == pytest.approx(1.0, abs=1e-5)


def test_ms_ssim_small_images_clear_error_or_smaller_window():
    x = torch.rand(1, 3, 128, 128)
    with pytest.raises(IsplabError, match="160 px"):
        ms_ssim(x, x)
    assert ms_ssim(x, x, win_size=7).item() == pytest.approx(1.0, abs=1e-5)  # needs > 96 px


@pytest.mark.parametrize("fn", [psnr, ssim, ms_ssim])
def test_bad_inputs(fn):
    with pytest.raises(IsplabError, match="shape"):
        fn(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(IsplabError):
        fn(torch.rand(3, 8), torch.rand(3, 8))


def test_ssim_too_small_for_window():
    with pytest.raises(IsplabError, match="win_size"):
        ssim(torch.rand(1, 3, 5, 5), torch.rand(1, 3, 5, 5))


def test_metric_accumulator_over_batches():
    targets = torch.cat([to_tensor(photo(n)[:96, :96], torch.float32) for n in PHOTOS])
    noise = torch.randn(targets.shape, generator=torch.Generator().manual_seed(1))
    preds = (targets + 0.03 * noise).clamp(0, 1)
    acc = MetricAccumulator()
    acc.update(preds[:2], targets[:2])
    acc.update(preds[2], targets[2])  # a single image counts as one
    result = acc.compute()
    assert result["count"] == 3 == acc.count
    assert result["psnr"] == pytest.approx(psnr(preds, targets).item(), abs=1e-5)
    assert result["ssim"] == pytest.approx(ssim(preds, targets).item(), abs=1e-6)
    acc.reset()
    assert acc.count == 0 and math.isnan(acc.compute()["psnr"])


def test_metric_accumulator_unknown_metric():
    with pytest.raises(IsplabError, match="psnr"):
        MetricAccumulator(("lpips",))


def test_delta_e_equals_scikit_image_ciede2000():
    from skimage.color import deltaE_ciede2000, rgb2lab

    from isplab.metrics import delta_e

    g = torch.Generator().manual_seed(5)
    pred, target = torch.rand(3, 3, 12, 10, generator=g), torch.rand(3, 3, 12, 10, generator=g)
    per_image = delta_e(pred, target, reduction="none")
    for i in range(3):
        expected = deltaE_ciede2000(rgb2lab(pred[i].permute(1, 2, 0).double().numpy()),
                                    rgb2lab(target[i].permute(1, 2, 0).double().numpy())).mean()
        assert per_image[i].item() == pytest.approx(expected, rel=1e-6)
    assert delta_e(target, target).item() == 0.0
    grey, warm = torch.full((1, 3, 4, 4), 0.5), torch.tensor([0.55, 0.5, 0.45]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert 2 < delta_e(warm, grey).item() < 10  # a visible cast is a few units


def test_ssim_fast_path_matches_the_exact_one():
    g = torch.Generator().manual_seed(6)
    pred = torch.rand(2, 3, 40, 56, generator=g)
    target = (pred + 0.1 * torch.randn(2, 3, 40, 56, generator=g)).clamp(0, 1)
    torch.testing.assert_close(ssim(pred, target, fast=True, reduction="none"),
                               ssim(pred, target, reduction="none"), atol=1e-5, rtol=0)


def test_data_range_other_than_one_matches_skimage():
    """8-bit scale images (data_range 255): the constants and the peak scale with the range."""
    target = photo("chelsea")[:64, :64] * 255
    pred = distort(photo("chelsea")[:64, :64], "noise+blur", seed=3) * 255
    assert psnr(to_tensor(pred), to_tensor(target), data_range=255).item() == pytest.approx(
        peak_signal_noise_ratio(target, pred, data_range=255), abs=1e-6)
    assert ssim(to_tensor(pred), to_tensor(target), data_range=255).item() == pytest.approx(
        structural_similarity(pred, target, data_range=255, channel_axis=2), abs=1e-8)
    # k1 and k2 each matter: dark, flat patches (where c1, c2 dominate) separate them
    dark_t, dark_p = target * 0.02, pred * 0.02
    for k1, k2 in ((0.05, 0.03), (0.01, 0.1)):
        assert ssim(to_tensor(dark_p), to_tensor(dark_t), data_range=255, k1=k1, k2=k2).item() == pytest.approx(
            structural_similarity(dark_p, dark_t, data_range=255, channel_axis=2, K1=k1, K2=k2), abs=1e-8)


def test_metrics_keep_the_input_dtype():
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    for fn in (psnr, ssim):
        assert fn(x, y).dtype == torch.float32 and fn(x.double(), y.double()).dtype == torch.float64
    from isplab.metrics import delta_e

    assert delta_e(x, y).dtype == torch.float32 and delta_e(x.double(), y.double()).dtype == torch.float64


def test_bad_input_messages_name_the_problem():
    with pytest.raises(IsplabError, match=r"metrics take images \(N, C, H, W\) or \(C, H, W\), got shape \(3, 8\)"):
        psnr(torch.rand(3, 8), torch.rand(3, 8))
    with pytest.raises(IsplabError, match="metrics take float images in \\[0, 1\\], got torch.float32 and torch.uint8"):
        psnr(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(IsplabError, match="got torch.uint8 and torch.float32"):
        ssim(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.rand(1, 3, 8, 8))
    with pytest.raises(IsplabError, match="unknown reduction 'sum'; use 'mean' or 'none'"):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), reduction="sum")
    from isplab.metrics import delta_e

    with pytest.raises(IsplabError, match=r"delta_e needs RGB images \(N, 3, H, W\), got \(1, 4, 8, 8\)"):
        delta_e(torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8))
    with pytest.raises(IsplabError, match="unknown metric.*; known metrics: psnr, ssim, ms_ssim, delta_e$"):
        MetricAccumulator(("lpips",))


def test_ssim_window_rules():
    x = torch.rand(1, 3, 9, 9, generator=torch.Generator().manual_seed(3))
    for bad in (1, 2, 4):
        with pytest.raises(IsplabError, match=f"SSIM win_size must be odd and >= 3, got {bad}"):
            ssim(x, x, win_size=bad)
    for ok in (3, 9):  # 3 is the smallest window, 9 the whole image
        y = (x + 0.1).clamp(0, 1)
        assert ssim(y, x, win_size=ok).item() == pytest.approx(
            structural_similarity(y[0].permute(1, 2, 0).double().numpy(), x[0].permute(1, 2, 0).double().numpy(),
                                  data_range=1.0, channel_axis=2, win_size=ok), abs=1e-5)
    with pytest.raises(IsplabError, match="needs images at least that large, got 9x9"):
        ssim(x, x, win_size=11)


def test_ssim_uses_the_exact_window_unless_fast(monkeypatch):
    import isplab.metrics as metrics

    def refuse(*args):
        raise AssertionError("running sums used")

    x = torch.rand(6, 3, 12, 12, generator=torch.Generator().manual_seed(4))  # 6 images: 30 moment planes
    expected = ssim(x, x.flip(-1), reduction="none")
    monkeypatch.setattr(metrics, "_running_window_mean", refuse)
    torch.testing.assert_close(ssim(x, x.flip(-1), reduction="none"), expected, rtol=0, atol=0)
    with pytest.raises(AssertionError, match="running sums"):
        ssim(x, x.flip(-1), fast=True)


def test_ms_ssim_per_image_custom_weights_and_the_size_limit():
    g = torch.Generator().manual_seed(7)
    target = torch.rand(2, 3, 72, 72, generator=g)
    pred = (target + 0.1 * torch.randn(2, 3, 72, 72, generator=g)).clamp(0, 1)
    weights = (0.2, 0.3, 0.5)
    per_image = ms_ssim(pred, target, win_size=5, weights=weights, reduction="none")
    expected = pytorch_msssim.ms_ssim(pred, target, data_range=1.0, win_size=5, weights=list(weights),
                                      size_average=False)
    assert per_image.shape == (2,)
    torch.testing.assert_close(per_image, expected, rtol=0, atol=1e-6)
    default = pytorch_msssim.ms_ssim(pred, target, data_range=1.0, win_size=5, weights=[0.2, 0.8],
                                     size_average=False)
    assert (per_image - default).abs().max() > 1e-3  # the weights change the score
    with pytest.raises(IsplabError, match=r"\(64, 64\); use larger crops"):  # exactly the limit: too small
        ms_ssim(target[..., :64, :64], target[..., :64, :64], win_size=5, weights=weights)


def test_delta_e_scores_the_clipped_images():
    """Predictions outside [0, 1] are scored as the clipped picture a file would hold."""
    from isplab.metrics import delta_e

    g = torch.Generator().manual_seed(8)
    target = torch.rand(1, 3, 8, 8, generator=g)
    wild = target * 3 - 1  # values from -1 to 2
    assert delta_e(wild, target).item() == pytest.approx(delta_e(wild.clamp(0, 1), target).item(), abs=1e-12)
    assert delta_e(wild, target).item() > 1
