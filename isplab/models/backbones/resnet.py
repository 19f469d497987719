"""ResNet-50 whose ``state_dict`` keys are torchvision's ``resnet50()`` keys (``conv1.weight``, ``bn1.*``,
``layer1.0.conv1.weight``, ... ``layer4.2.conv3.weight``; ``fc.*`` is omitted: only features are used).

Bottlenecks put the stride on the 3x3 conv (torchvision's "ResNet v1.5"), so ImageNet weights saved from
torchvision reproduce its features exactly.

>>> import torch
>>> net = ResNet50().eval()
>>> net(torch.zeros(1, 3, 32, 32), ["layer1", "layer4"])["layer4"].shape
torch.Size([1, 2048, 1, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from isplab.errors import IsplabError

#: Feature taps, in forward order: the stem after max-pool, then each stage's output.
RESNET50_LAYERS = ("stem", "layer1", "layer2", "layer3", "layer4")
_BLOCKS, _WIDTHS = (3, 4, 6, 3), (64, 128, 256, 512)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 (x4 channels) with batch norms, identity or projected shortcut."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    """torchvision's ResNet-50 trunk, truncated after stage ``last``; ``forward(x, layers) -> {name: features}``.

    Input ``(N, 3, H, W)`` already ImageNet-normalised. Layer ``k`` has stride ``2**(k+1)`` and
    ``256 * 2**(k-1)`` channels; ``stem`` is 64 channels at stride 4.
    """

    def __init__(self, last: str = "layer4") -> None:
        super().__init__()
        if last not in RESNET50_LAYERS:
            raise IsplabError(f"unknown ResNet-50 layer {last!r}; known: {', '.join(RESNET50_LAYERS)}")
        self.depth = RESNET50_LAYERS.index(last)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_ch = 64
        for stage in range(self.depth):
            blocks, width = _BLOCKS[stage], _WIDTHS[stage]
            stride = 1 if stage == 0 else 2
            layer = [Bottleneck(in_ch, width, stride)]
            in_ch = width * Bottleneck.expansion
            layer += [Bottleneck(in_ch, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        depth = max(RESNET50_LAYERS.index(name) for name in layers)
        if depth > self.depth:
            raise IsplabError(f"ResNet-50 truncated after {RESNET50_LAYERS[self.depth]} cannot give {list(layers)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = {"stem": x}
        for stage in range(1, depth + 1):
            x = getattr(self, f"layer{stage}")(x)
            out[f"layer{stage}"] = x
        return {name: out[name] for name in layers}
