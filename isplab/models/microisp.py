"""MicroISP (Ignatov et al., ECCV-W 2022), op for op as the official aiff22/MicroISP ``model.py``.

Layout: three independent colour branches (R, G, B), each a stack of *stages* (the official
``generator-1``, ``generator-2``). A stage is ``num_blocks`` 3x3 convs of ``features`` channels with
per-channel PReLU; every ``res_skip`` blocks the features are gated by a small attention map and added
to the stage's last skip. Each stage ends in a 3x3 conv to 4 channels and ``tanh``; the next stage of
the same colour starts from that 4-channel ``tanh`` output, and the last one is scaled to
``tanh * 0.58 + 0.5`` and turned into one full-resolution colour plane by TensorFlow ``depth_to_space``.
All convs are zero padded ("SAME") except the stride-3 "VALID" convs of the attention.

Parameter names follow the official variables: ``stages.{g}.{colour}.convs.{j}`` is
``generator-{g+1}/{colour}_w{g+1}_{j}``, ``...out`` is ``{colour}_w{g+1}_out``, so the TFLite/checkpoint
weights import 1:1 (:func:`map_official_tflite`, run by :mod:`isplab.export.tflite_weights`).

Because the attention reduces the map by 3**4 = 81 before pooling, the packed input must be at least
79x79 (raw 158x158).

MicroISP 0.5 is not in the official code; it is taken as one generator per colour instead of two, which
halves parameters and ops as the report's 0.077 MB vs 0.152 MB (and ~half the runtime) indicate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from isplab.camera.profile import ULTRAISP_MAI_DOMAIN
from isplab.errors import IsplabError
from isplab.models.cards import register_shipped, register_weights
from isplab.models.ops import DepthToSpaceConcat
from isplab.models.registry import TFLITE_MAPPERS, register_model

if TYPE_CHECKING:  # export sits above models: its flatbuffer reader is only needed when a file is imported
    from isplab.export.flatbuffer import Graph
    from isplab.export.tflite_weights import ConvSlot

#: Minimal packed height/width: four stride-3 "VALID" convs must leave at least one pixel.
MIN_PACKED_SIZE = 79


class Attention(nn.Module):
    """Global gate ``(N, C, h, w)`` -> ``(N, A, 1, 1)`` in (0, 1): four stride-3 convs, mean, two 1x1."""

    def __init__(self, features: int = 4, hidden: int = 4, dims: int = 4):
        super().__init__()
        # The first "conv" is 1x1 with stride 3 (pure subsampling + mixing), then three 3x3 stride 3.
        self.convs = nn.ModuleList(
            [nn.Conv2d(features, features, 1 if i == 0 else 3, stride=3) for i in range(4)]
        )
        self.prelus = nn.ModuleList([nn.PReLU(features, init=0.0) for _ in range(4)])
        self.fc1 = nn.Conv2d(features, hidden, 1)
        self.prelu_fc1 = nn.PReLU(hidden, init=0.0)
        self.fc2 = nn.Conv2d(hidden, dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, prelu in zip(self.convs, self.prelus, strict=True):
            x = prelu(conv(x))
        x = x.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.fc2(self.prelu_fc1(self.fc1(x))))


class Stage(nn.Module):
    """One colour's generator: ``(N, in_channels, h, w)`` -> ``tanh`` pre-shuffle ``(N, 4, h, w)``."""

    def __init__(self, in_channels: int = 4, features: int = 4, num_blocks: int = 7, res_skip: int = 3):
        super().__init__()
        self.res_skip = res_skip
        cins = [in_channels] + [features] * (num_blocks - 1)
        self.convs = nn.ModuleList([nn.Conv2d(c, features, 3, padding=1) for c in cins])
        # Keras PReLU(shared_axes=[1, 2]) = one slope per channel, initialised to 0.
        self.prelus = nn.ModuleList([nn.PReLU(features, init=0.0) for _ in range(num_blocks)])
        self.attention = nn.ModuleDict(
            {str(j): Attention(features) for j in range(num_blocks) if j % res_skip == res_skip - 1}
        )
        self.out = nn.Conv2d(features, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x
        for j, (conv, prelu) in enumerate(zip(self.convs, self.prelus, strict=True)):
            x = prelu(conv(x))
            if j % self.res_skip == 0:
                skip = x
            elif str(j) in self.attention:
                x = x * self.attention[str(j)](x) + skip
        return torch.tanh(self.out(x))


class MicroISP(nn.Module):
    """Packed raw ``(N, 4, h, w)`` (h, w >= 79) -> RGB ``(N, 3, 2h, 2w)``, roughly in [-0.08, 1.08]."""

    def __init__(self, num_stages: int = 2, features: int = 4, num_blocks: int = 7, res_skip: int = 3):
        super().__init__()
        # Stage g of every colour takes 4 channels: the packed raw for g = 0, the previous tanh after.
        self.stages = nn.ModuleList(
            [
                nn.ModuleList([Stage(4, features, num_blocks, res_skip) for _colour in range(3)])
                for _g in range(num_stages)
            ]
        )
        self.to_rgb = DepthToSpaceConcat(2, planes=3)
        # Official init: N(0, 1e-3) weights, zero biases (PReLU slopes start at 0, set above).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=1e-3)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        planes = [x, x, x]
        for stage in self.stages:
            planes = [branch(p) for branch, p in zip(stage, planes, strict=True)]
        return self.to_rgb([p * 0.58 + 0.5 for p in planes])


@register_model("microisp", recipe="microisp", min_input=MIN_PACKED_SIZE)
def microisp(features: int = 4, num_blocks: int = 7) -> MicroISP:
    """MicroISP 1.0 (official baseline): 3 colour branches x 2 stacked generators, 13,560 params."""
    return MicroISP(num_stages=2, features=features, num_blocks=num_blocks)


@register_model("microisp_0.5", recipe="microisp_0.5", min_input=MIN_PACKED_SIZE)
def microisp_0_5(features: int = 4, num_blocks: int = 7) -> MicroISP:
    """MicroISP 0.5: one generator per colour branch instead of two, 6,780 params."""
    return MicroISP(num_stages=1, features=features, num_blocks=num_blocks)


register_shipped("microisp")
register_shipped("microisp_0.5")
register_weights("microisp.mai22_official", importer="microisp", default=False,
                 source="aiff22/MicroISP: tflite_model/MicroISP.tflite (the MAI 2022 baseline's release)",
                 licence="CC BY-NC-SA 4.0 (research use)", data="Fujifilm UltraISP (MAI 2022): Sony IMX586 raws")



def _official_slots(model: MicroISP, colour: int) -> list[ConvSlot]:
    """The convs of colour branch ``colour`` in the official op order (stage by stage, block by block)."""
    slots: list[ConvSlot] = []
    for g, stage in enumerate(model.stages):
        p = f"stages.{g}.{colour}"
        branch = stage[colour]
        for j in range(len(branch.convs)):
            slots.append((f"{p}.convs.{j}", branch.convs[j], f"{p}.prelus.{j}"))
            if str(j) in branch.attention:
                a, att = f"{p}.attention.{j}", branch.attention[str(j)]
                slots += [(f"{a}.convs.{k}", att.convs[k], f"{a}.prelus.{k}") for k in range(len(att.convs))]
                slots += [(f"{a}.fc1", att.fc1, f"{a}.prelu_fc1"), (f"{a}.fc2", att.fc2, None)]
        slots.append((f"{p}.out", branch.out, None))
    return slots


# The official weights were trained on the MAI 2022 (Fujifilm UltraISP) raws: raw / 1020, black pedestal kept.
@TFLITE_MAPPERS.register("microisp", "microisp_0.5", domain=ULTRAISP_MAI_DOMAIN)
def map_official_tflite(graph: Graph, model: MicroISP) -> dict:
    """Official ``MicroISP.tflite``: the final CONCATENATION's inputs are the R, G, B branches.

    Each branch is a chain (its skips add no convs), so its convs in execution order are the official
    definition order; branches are told apart by which concat input they feed, not by file order.
    """
    from isplab.export.tflite_weights import pair_convs  # lazy: export sits above models

    (out,) = graph.outputs
    concat = graph.producer(out)
    if concat is None or concat.name != "CONCATENATION" or len(concat.inputs) != 3:
        raise IsplabError(f"{graph.source}: expected the output to be a concat of 3 colour planes")
    state: dict = {}
    for colour, plane in enumerate(concat.inputs):
        ops = graph.ancestors(plane)
        convs = [op for op in ops if op.name == "CONV_2D"]
        state.update(pair_convs(graph, convs, _official_slots(model, colour), f"colour branch {colour}"))
        # The head must be depth_to_space(tanh * 0.58 + 0.5, 2); check the constants the model hard-codes.
        consts = [op for op in ops if op.name in ("MUL", "ADD") and graph.producer(op.inputs[1]) is None]
        scale = [graph.constant(op.inputs[1]) for op in consts if op.name == "MUL"]
        shift = [graph.constant(op.inputs[1]) for op in consts if op.name == "ADD"]
        if not (np.allclose(scale, 0.58) and np.allclose(shift, 0.5) and len(scale) == len(shift) == 1):
            raise IsplabError(f"{graph.source}: colour {colour} head is not tanh * 0.58 + 0.5")
    return state
