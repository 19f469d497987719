"""VGG-19 convolutional trunk whose ``state_dict`` keys are torchvision's ``vgg19().features`` keys.

``VGG19().state_dict()`` has ``features.0.weight``, ``features.0.bias``, ... ``features.34.bias``, the same
as ``torchvision.models.vgg19().state_dict()`` minus ``classifier.*`` (the classifier is not needed for
features). Activations are named like the literature, ``relu5_4`` etc. (:data:`VGG19_LAYERS`).

>>> import torch
>>> net = VGG19(last="relu1_2")
>>> net(torch.zeros(1, 3, 8, 8), ["relu1_1", "relu1_2"])["relu1_2"].shape
torch.Size([1, 64, 8, 8])
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from isplab.errors import IsplabError

#: torchvision's ``cfgs["E"]``: output channels per conv, "M" for a 2x2 max-pool.
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def _layer_names() -> dict[str, int]:
    """``{"conv1_1": 0, "relu1_1": 1, ..., "pool5": 36}``: activation name -> index in ``features``."""
    names, block, conv, index = {}, 1, 1, 0
    for item in _CFG:
        if item == "M":
            names[f"pool{block}"] = index
            block, conv, index = block + 1, 1, index + 1
        else:
            names[f"conv{block}_{conv}"], names[f"relu{block}_{conv}"] = index, index + 1
            conv, index = conv + 1, index + 2
    return names


#: Activation name -> index of the module in ``features`` that produces it.
VGG19_LAYERS: dict[str, int] = _layer_names()


class VGG19(nn.Module):
    """torchvision's VGG-19 ``features`` trunk, truncated after activation ``last`` (default: all 37 modules).

    Input ``(N, 3, H, W)`` already ImageNet-normalised; ``forward(x, layers)`` returns ``{name: (N, C, h, w)}``.
    Truncating drops the tail modules, so a full torchvision state dict loads with ``strict=False`` only;
    :func:`isplab.losses.perceptual.load_backbone` handles that.
    """

    def __init__(self, last: str = "pool5") -> None:
        super().__init__()
        if last not in VGG19_LAYERS:
            raise IsplabError(f"unknown VGG-19 layer {last!r}; known: {', '.join(VGG19_LAYERS)}")
        modules: list[nn.Module] = []
        in_ch = 3
        for item in _CFG:
            if item == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                modules += [nn.Conv2d(in_ch, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_ch = item
        self.features = nn.Sequential(*modules[: VGG19_LAYERS[last] + 1])
        for m in self.features.modules():  # torchvision's init: random features keep their scale with depth
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        wanted = {VGG19_LAYERS[name]: name for name in layers}
        if max(wanted) >= len(self.features):
            raise IsplabError(f"VGG-19 truncated to {len(self.features)} modules cannot give layers {list(layers)}")
        out: dict[str, Tensor] = {}
        for index, module in enumerate(self.features[: max(wanted) + 1]):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return out
