"""Perceptual losses on frozen ImageNet backbones: ``perceptual_vgg`` (VGG-19) and ``perceptual_resnet`` (ResNet-50).

ImageNet weights cannot be downloaded here: give a local state-dict file with ``weights: path`` (how to
make one from torchvision elsewhere: ``docs/losses.md``). Without one, ``pretrained: false`` must be set
explicitly to get a randomly initialised backbone (tests); otherwise construction fails with instructions.

Inputs are RGB in [0, 1]; ImageNet mean/std normalisation is applied inside. The backbone is frozen, kept
in eval mode, and hidden from ``parameters()`` and ``state_dict()``: it is neither optimised nor written
into training checkpoints (``.to()``/``.double()`` still move it).

>>> import torch
>>> from isplab.losses import create_loss
>>> loss = create_loss("perceptual_vgg", layers=["relu1_2"], pretrained=False)
>>> float(loss(torch.rand(1, 3, 8, 8).clamp(0, 1), torch.zeros(1, 3, 8, 8))) > 0
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from isplab.errors import IsplabError
from isplab.losses.registry import check_pair, register_loss
from isplab.models.backbones import RESNET50_LAYERS, VGG19, VGG19_LAYERS, ResNet50
from isplab.models.weights import load_data_only

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: How to make each backbone's weight file on a machine with torchvision (also in docs/losses.md).
EXPORT_HINT = {
    "vgg19": 'torch.save(torchvision.models.vgg19(weights="IMAGENET1K_V1").features.state_dict(), "vgg19.pth")',
    "resnet50": 'torch.save(torchvision.models.resnet50(weights="IMAGENET1K_V2").state_dict(), "resnet50.pth")',
}
_DISTANCES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"mse": F.mse_loss, "l1": F.l1_loss}


def load_backbone(net: nn.Module, path: str | Path, kind: str) -> None:
    """Load torchvision weights for ``kind`` (``vgg19``/``resnet50``) from ``path`` into ``net`` (a possibly
    truncated :class:`VGG19`/:class:`ResNet50`).

    Accepts a full model state dict or, for VGG-19, the ``.features`` one (keys ``0.weight`` ...); keys
    the truncated net does not use (``classifier.*``, ``fc.*``, deeper layers) are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise IsplabError(
            f"{path}: {kind} weight file not found. Make it where torchvision is installed: {EXPORT_HINT[kind]}"
        )
    state = load_data_only(path, "not a readable torch state dict", f"Make one with: {EXPORT_HINT[kind]}")
    if not isinstance(state, dict):
        raise IsplabError(
            f"{path}: expected a state dict, got {type(state).__name__}. Make one with: {EXPORT_HINT[kind]}"
        )
    if kind == "vgg19" and state and all(k.split(".")[0].isdigit() for k in state):
        state = {f"features.{k}": v for k, v in state.items()}
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise IsplabError(
            f"{path}: not {kind} weights in torchvision naming (missing {len(missing)} keys, e.g. {missing[:3]}). "
            f"Make the file with: {EXPORT_HINT[kind]}"
        )
    try:
        net.load_state_dict({k: state[k] for k in expected})
    except RuntimeError as exc:
        raise IsplabError(f"{path}: {kind} weights do not fit the network: {exc}") from None


class PerceptualLoss(nn.Module):
    """Mean over ``layers`` of ``distance(features(pred), features(target))`` on a frozen backbone."""

    kind = ""

    def __init__(
        self, net: nn.Module, layers: Sequence[str], weights: str | None, pretrained: bool, distance: str
    ) -> None:
        super().__init__()
        if distance not in _DISTANCES:
            raise IsplabError(f"perceptual distance must be one of {sorted(_DISTANCES)}, got {distance!r}")
        if weights is not None:
            load_backbone(net, weights, self.kind)
        elif pretrained:
            raise IsplabError(
                f"{type(self).__name__} needs ImageNet {self.kind} weights, which cannot be downloaded here: "
                f"set 'weights: path/to/{self.kind}.pth' in the loss options, made where torchvision is installed "
                f"with {EXPORT_HINT[self.kind]} (see docs/losses.md), or set 'pretrained: false' for random weights"
            )
        net.requires_grad_(False).eval()
        # Not a registered submodule: keeps ~80-100 MB of frozen weights out of parameters() and checkpoints.
        object.__setattr__(self, "net", net)
        self.layers, self.weights, self.pretrained, self.distance = list(layers), weights, pretrained, distance
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _apply(self, fn, recurse=True):  # noqa: ANN001 -- torch's private signature
        self.net._apply(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.net.eval()  # batch-norm statistics stay ImageNet's
        return self

    def features(self, x: Tensor) -> dict[str, Tensor]:
        """``{layer: (N, C, h, w)}`` of RGB ``x`` ``(N, 3, H, W)`` in [0, 1]."""
        if x.shape[1] != 3:
            raise IsplabError(f"perceptual losses take RGB images (N, 3, H, W), got {tuple(x.shape)}")
        return self.net((x - self.mean.to(x.dtype)) / self.std.to(x.dtype), self.layers)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        fp = self.features(pred)
        with torch.no_grad():
            ft = self.features(target)
        dist = _DISTANCES[self.distance]
        return torch.stack([dist(fp[name], ft[name]) for name in self.layers]).mean()

    def extra_repr(self) -> str:
        return (
            f"layers={self.layers}, weights={self.weights!r}, pretrained={self.pretrained}, "
            f"distance={self.distance!r}"
        )


def _checked_layers(loss: str, layers: Sequence[str] | str, known: Sequence[str]) -> tuple[list[str], str]:
    """``layers`` as a list, validated against the backbone's names (in depth order), and the deepest one."""
    layers = [layers] if isinstance(layers, str) else list(layers)
    unknown = [name for name in layers if name not in known]
    if not layers or unknown:
        raise IsplabError(f"{loss} layers {unknown or layers} invalid; known: {', '.join(known)}")
    order = list(known)
    return layers, max(layers, key=order.index)


@register_loss("perceptual_vgg")
class VGGPerceptualLoss(PerceptualLoss):
    """Feature distance on frozen VGG-19 activations (default relu5_4, MSE), as MiAlgo, MINCHO, CASIA, DANN-ISP..."""

    kind = "vgg19"

    def __init__(
        self, layers: Sequence[str] = ("relu5_4",), weights: str | None = None, pretrained: bool = True,
        distance: str = "mse",
    ) -> None:
        layers, last = _checked_layers("perceptual_vgg", layers, list(VGG19_LAYERS))
        super().__init__(VGG19(last=last), layers, weights, pretrained, distance)


@register_loss("perceptual_resnet")
class ResNetPerceptualLoss(PerceptualLoss):
    """Feature distance on frozen ResNet-50 stage outputs (default layer3, MSE), as ENERZAi."""

    kind = "resnet50"

    def __init__(
        self, layers: Sequence[str] = ("layer3",), weights: str | None = None, pretrained: bool = True,
        distance: str = "mse",
    ) -> None:
        layers, last = _checked_layers("perceptual_resnet", layers, RESNET50_LAYERS)
        super().__init__(ResNet50(last=last), layers, weights, pretrained, distance)
