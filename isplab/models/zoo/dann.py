"""DANN-ISP (report section 4.8, Fig. 10): domain-adversarial ISP with one pre-encoder per camera.

Training (two stages in the report): first source-only image losses; then source and target batches
together, image losses plus a binary cross-entropy on :meth:`DannISP.forward_with_domain`'s logits
(source label 0, target label 1). The gradient-reversal layer makes the shared UNet *maximise* that
loss, pushing the bottleneck toward camera-invariant features, while the classifier minimises it::

    rgb_s, d_s = model.forward_with_domain(raw_s, domain="source")
    rgb_t, d_t = model.forward_with_domain(raw_t, domain="target")
    loss = img(rgb_s, y_s) + img(rgb_t, y_t) + bce(d_s, zeros) + bce(d_t, ones)
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.blocks import GradientReversal
from isplab.models.registry import register_model

DOMAINS = ("source", "target")


def _conv_relu(c_in: int, c_out: int, kernel_size: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2), nn.ReLU()]


class PreEncoder(nn.Sequential):
    """Per-camera stem: three 3x3 conv + ReLU with 8, 16, 32 filters. ``(N, 4, h, w) -> (N, 32, h, w)``."""

    def __init__(self, widths: tuple[int, ...] = (8, 16, 32)):
        layers: list[nn.Module] = []
        for c_in, c_out in zip((4, *widths[:-1]), widths, strict=True):
            layers += _conv_relu(c_in, c_out)
        super().__init__(*layers)


class _DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int):
        super().__init__(*_conv_relu(c_in, c_out), *_conv_relu(c_out, c_out))


class LightUNet(nn.Module):
    """UNet with 3 max-pool downs and 4 transposed-conv ups (the last one to full resolution).

    Returns ``(rgb, bottleneck)``: sigmoid RGB ``(N, 3, 2h, 2w)`` and the bottleneck projected to
    ``feature_dim`` channels, ``(N, feature_dim, h/8, w/8)`` (its global average is the report's 256-d
    vector).
    """

    def __init__(
        self,
        in_channels: int = 32,
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
        out_width: int = 16,
        feature_dim: int = 256,
    ):
        super().__init__()
        self.encoders = nn.ModuleList(
            [
                _DoubleConv(c_in, c_out)
                for c_in, c_out in zip((in_channels, *widths[:-1]), widths, strict=True)
            ]
        )
        self.pool = nn.MaxPool2d(2)
        self.project = nn.Sequential(*_conv_relu(widths[-1], feature_dim, 1))
        skips = widths[-2::-1]
        self.ups = nn.ModuleList(
            [
                nn.Sequential(nn.ConvTranspose2d(c_in, c, 2, stride=2), nn.ReLU())
                for c_in, c in zip(widths[:0:-1], skips, strict=True)
            ]
        )
        self.decoders = nn.ModuleList([_DoubleConv(2 * c, c) for c in skips])
        self.final_up = nn.Sequential(nn.ConvTranspose2d(widths[0], out_width, 2, stride=2), nn.ReLU())
        self.final = nn.Sequential(
            _DoubleConv(out_width, out_width), nn.Conv2d(out_width, 3, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(self.pool(x) if level else x)
            skips.append(x)
        bottleneck = skips.pop()
        y = bottleneck
        for up, decoder in zip(self.ups, self.decoders, strict=True):
            y = decoder(torch.cat([up(y), skips.pop()], dim=1))
        return self.final(self.final_up(y)), self.project(bottleneck)


class DomainClassifier(nn.Module):
    """Gradient reversal -> global average pool -> dense + ReLU -> dense to one logit.

    ``(N, C, h, w) -> (N, 1)`` logit of "target domain" (use ``BCEWithLogitsLoss``). ``grl.lambda_`` is
    the adversarial weight (DANN ramps it from 0 to 1).
    """

    def __init__(self, channels: int = 256, hidden: int = 256, lambda_: float = 1.0):
        super().__init__()
        self.grl = GradientReversal(lambda_)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.grl(features).mean(dim=(2, 3)))


class DannISP(nn.Module):
    """Two pre-encoders (``source``/``target`` camera), a shared light UNet and a domain classifier.

    ``forward(x)`` returns RGB through the ``target`` pre-encoder (the deployed camera).
    Input ``(N, 4, h, w)`` with ``h, w`` divisible by 8.
    """

    def __init__(
        self,
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
        feature_dim: int = 256,
        hidden: int = 256,
        lambda_: float = 1.0,
    ):
        super().__init__()
        self.encoders = nn.ModuleDict({d: PreEncoder() for d in DOMAINS})
        self.unet = LightUNet(32, tuple(widths), feature_dim=feature_dim)
        self.classifier = DomainClassifier(feature_dim, hidden, lambda_)

    def _encode(self, x: torch.Tensor, domain: str | int) -> torch.Tensor:
        if isinstance(domain, int):
            domain = DOMAINS[domain]
        if domain not in self.encoders:
            raise ValueError(f"unknown domain {domain!r}; use one of {DOMAINS} (or 0/1)")
        return self.encoders[domain](x)

    def forward(self, x: torch.Tensor, domain: str | int = "target") -> torch.Tensor:
        return self.unet(self._encode(x, domain))[0]

    def forward_with_domain(self, x: torch.Tensor, domain: str | int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rgb, domain_logits)`` for adversarial training; ``domain`` picks the pre-encoder.

        ``domain_logits`` is ``(N, 1)``; gradients reaching the UNet from it are reversed and scaled
        by ``classifier.grl.lambda_``.
        """
        rgb, features = self.unet(self._encode(x, domain))
        return rgb, self.classifier(features)


@register_model("dann_isp", recipe="dann", input_multiple=8)
def dann_isp(
    widths: tuple[int, int, int, int] = (64, 128, 256, 512), feature_dim: int = 256, lambda_: float = 1.0
) -> nn.Module:
    """DANN-ISP: two camera pre-encoders, light UNet (3 down/4 up) and a gradient-reversed domain classifier.

    Report section 4.8 plus the team's public code (gosha20777/few-shot-isp-domain-adaptation, read,
    not copied): pre-encoders 8/16/32, UNet widths 64/128/256/512 with a 16-channel full-resolution
    stage and sigmoid output. Assumed: transposed 2x2 convs instead of upsample + 2x2 conv (same
    parameter count), a 1x1 projection of the 512-channel bottleneck to the 256-d feature, and a GAP +
    256-unit dense + 1-logit classifier (no BatchNorm). 7.93M params, 31.7 MB fp32 (Table 1: 29.4 MB).
    Packed input sides must be multiples of 8.
    """
    return DannISP(tuple(widths), feature_dim, lambda_=lambda_)

