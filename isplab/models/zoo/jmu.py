"""JMU-CVLab (report section 4.7, Fig. 9): Smallnet + depth-to-space, gamma & tone mapping, CBAM refinement.

Rebuilt op for op from the team's submitted TFLite file (41,588 B; Keras weights
``model_isp_final_23_46.h5``, mv-lab/AISP ``mai22-learnedisp/``), so those weights import exactly:

1. Smallnet: conv3x3 4->16 + tanh, conv3x3 16->16 + relu, conv3x3 16->12 + relu, depth_to_space(2).
2. Gamma ``g = (x + 1e-8) ** (1 / 2.2)``, then the smoothstep tone curve ``t = 3 g^2 - 2 g^3``.
3. Refinement on ``t``: ``conv_expand`` 3x3 3->32 + relu; CBAM (channel MLP 32->4->32 shared by the
   global max and average pools, summed, sigmoid; spatial: channel mean and max -> 7x7 conv without
   bias -> sigmoid); ``conv_remap`` 3x3 32->3 + tanh, added to ``t``; clipped to [0, 1].

Around the Keras model the submitted graph multiplies the input by 1/4096 and re-stacks its channels as
``[2, 3, 1, 0]``; :func:`keras_state_dict` folds both into ``conv1``, so this model keeps the canonical
packed input. Parameters: 6,805 = 0.027 MB as fp32; the report's 0.041 MB is the TFLite file, whose
remaining ~14 KB is graph metadata (tensor names, 45 ops), a large share for a model this small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from isplab.camera.profile import ULTRAISP_MAI_DOMAIN
from isplab.errors import IsplabError
from isplab.models.blocks import CBAM
from isplab.models.cards import register_shipped, register_weights
from isplab.models.registry import TFLITE_MAPPERS, register_model
from isplab.models.smallnet import SmallNet
from isplab.raw.bayer import MAI_WHITE_LEVEL

if TYPE_CHECKING:  # export sits above models: its flatbuffer reader is only needed when a file is imported
    from isplab.export.flatbuffer import Graph

#: Input channel ``k`` of the Keras model is channel ``TFLITE_INPUT_ORDER[k]`` of the TFLite input.
TFLITE_INPUT_ORDER = (2, 3, 1, 0)
#: The submitted graph's input scaling (raw values / 4096).
TFLITE_INPUT_SCALE = 1.0 / 4096.0


def gamma_tone_map(x: torch.Tensor, gamma: float = 2.2, eps: float = 1e-8) -> torch.Tensor:
    """Gamma ``(x + eps) ** (1 / gamma)`` followed by the smoothstep tone curve ``3 g^2 - 2 g^3``."""
    g = (x + eps) ** (1.0 / gamma)
    return 3.0 * g**2 - 2.0 * g**3


def clip_unit(x: torch.Tensor) -> torch.Tensor:
    """``clamp(x, 0, 1)`` written as ``1 - relu(1 - relu(x))`` (equal up to one float rounding, <= 6e-8).

    The converter fuses every direct form (clamp, min(relu(x), 1), max(min(x, 1), 0)) into
    ``RELU_0_TO_1``, which the mobile GPU delegate does not run; this one lowers to two SUBs with fused
    ReLU.
    """
    return 1.0 - torch.relu(1.0 - torch.relu(x))


class JMUNet(nn.Module):
    """Packed raw ``(N, 4, h, w)`` in [0, 1] -> RGB ``(N, 3, 2h, 2w)`` in [0, 1] (see module docstring)."""

    def __init__(self, channels: int = 16, refine_channels: int = 32, reduction: int = 8):
        super().__init__()
        self.smallnet = SmallNet(channels)
        self.conv_expand = nn.Conv2d(3, refine_channels, 3, padding=1)
        self.cbam = CBAM(refine_channels, reduction=reduction, kernel_size=7, spatial_bias=False)
        self.conv_remap = nn.Conv2d(refine_channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = gamma_tone_map(self.smallnet(x))
        r = self.cbam(torch.relu(self.conv_expand(t)))
        return clip_unit(t + torch.tanh(self.conv_remap(r)))


def keras_state_dict(weights: dict[str, np.ndarray], input_scale: float) -> dict[str, torch.Tensor]:
    """Map the team's Keras weights to a :class:`JMUNet` state dict.

    Args:
        weights: arrays keyed ``"<layer>/kernel"`` / ``"<layer>/bias"`` with the Keras layer names of
            ``model_isp_final_23_46.h5`` (``conv2d``, ``conv2d_1``, ``conv2d_2``, ``conv2d_3`` (spatial
            attention, no bias), ``conv_expand``, ``conv_remap``, ``dense``, ``dense_1``).
        input_scale: what the submitted TFLite input is in units of this model's [0, 1] input, i.e. the
            white level used to normalise (the graph then divides by 4096, folded here into ``conv1``).

    Checked against the submitted TFLite file: max-abs output difference below 4e-6 on 544x960 inputs.
    """
    def conv(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(weights[f"{name}/kernel"].transpose(3, 2, 0, 1)))

    def vec(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(weights[f"{name}/bias"]))

    conv1 = conv("conv2d") * (input_scale * TFLITE_INPUT_SCALE)
    canonical = torch.empty_like(conv1)
    canonical[:, list(TFLITE_INPUT_ORDER)] = conv1
    dense = {n: torch.from_numpy(np.ascontiguousarray(weights[f"{n}/kernel"].T))[:, :, None, None]
             for n in ("dense", "dense_1")}
    return {
        "smallnet.conv1.weight": canonical, "smallnet.conv1.bias": vec("conv2d"),
        "smallnet.conv2.weight": conv("conv2d_1"), "smallnet.conv2.bias": vec("conv2d_1"),
        "smallnet.conv3.weight": conv("conv2d_2"), "smallnet.conv3.bias": vec("conv2d_2"),
        "conv_expand.weight": conv("conv_expand"), "conv_expand.bias": vec("conv_expand"),
        "cbam.channel.mlp.0.weight": dense["dense"], "cbam.channel.mlp.0.bias": vec("dense"),
        "cbam.channel.mlp.2.weight": dense["dense_1"], "cbam.channel.mlp.2.bias": vec("dense_1"),
        "cbam.spatial.conv.weight": conv("conv2d_3"),
        "conv_remap.weight": conv("conv_remap"), "conv_remap.bias": vec("conv_remap"),
    }


@register_model("jmu_cvlab", recipe="jmu")
def jmu_cvlab() -> JMUNet:
    """JMU-CVLab: Smallnet + gamma/tone mapping + CBAM refinement, as submitted (6,805 params, report 0.041 MB)."""
    return JMUNet()


# Trained on the MAI 2022 (Fujifilm UltraISP) raws; ``input_scale`` folds the file's scaling into conv1.
@TFLITE_MAPPERS.register("jmu_cvlab", domain=ULTRAISP_MAI_DOMAIN)
def map_submitted_tflite(graph: Graph, model: JMUNet, input_scale: float = MAI_WHITE_LEVEL) -> dict:
    """JMU-CVLab's submitted ``model.tflite`` (Keras graph: smallnet, tone curve, CBAM refinement).

    The file takes raw values, multiplies by 1/4096 and re-stacks the channels before the first conv;
    both are read from the graph, checked against :data:`TFLITE_INPUT_ORDER` / :data:`TFLITE_INPUT_SCALE`
    and folded into ``smallnet.conv1`` by :func:`keras_state_dict`: the imported model takes the canonical
    packed raw in [0, 1] equal to ``tflite_input / input_scale`` (the white level, 1020 for the MAI data).
    """
    ops = graph.ops
    muls = [op for op in graph.consumers(graph.inputs[0]) if op.name == "MUL"]
    packs = [op for op in ops if op.name == "PACK"]
    if len(muls) != 1 or len(packs) != 1:
        raise IsplabError(f"{graph.source}: expected input scaling (MUL) and channel re-stacking (PACK)")
    # Each STRIDED_SLICE takes one input channel (its ``begin`` on the last axis); PACK restacks them.
    sliced = {o.outputs[0]: int(graph.constant(o.inputs[1])[-1]) for o in ops if o.name == "STRIDED_SLICE"}
    order = tuple(sliced[t] for t in packs[0].inputs)
    scale = float(graph.constant(muls[0].inputs[1]))
    if order != tuple(TFLITE_INPUT_ORDER) or not np.isclose(scale, TFLITE_INPUT_SCALE):
        raise IsplabError(f"{graph.source}: input order {order} / scale {scale} differ from the isplab model's")
    # Keras layer names of keras_state_dict, in execution order (conv2d_3 = CBAM spatial conv, no bias).
    conv_names = ["conv2d", "conv2d_1", "conv2d_2", "conv_expand", "conv2d_3", "conv_remap"]
    convs = [op for op in ops if op.name == "CONV_2D"]
    # Each dense layer appears twice (max and average pooled paths) with the same kernel.
    fc_ops = [op for op in ops if op.name == "FULLY_CONNECTED"]
    fcs = list({op.inputs[1]: op for op in fc_ops}.values())
    if len(convs) != len(conv_names) or len(fcs) != 2:
        raise IsplabError(f"{graph.source}: expected 6 convs, 2 dense layers; found {len(convs)}, {len(fcs)}")
    for op in fc_ops:  # the shared MLP: both paths must use the same bias too
        first = next(f for f in fcs if f.inputs[1] == op.inputs[1])
        if not np.array_equal(graph.constant(op.inputs[2]), graph.constant(first.inputs[2])):
            raise IsplabError(f"{graph.source}: the CBAM max and average paths have different dense biases")
    weights: dict[str, np.ndarray] = {}
    for name, op in zip(conv_names, convs, strict=True):
        weights[f"{name}/kernel"] = graph.constant(op.inputs[1]).transpose(1, 2, 3, 0)  # OHWI -> Keras HWIO
        weights[f"{name}/bias"] = graph.constant(op.inputs[2])
    if np.any(weights.pop("conv2d_3/bias")):
        raise IsplabError(f"{graph.source}: the CBAM spatial conv has a bias; the isplab model has none")
    for name, op in zip(("dense", "dense_1"), fcs, strict=True):
        weights[f"{name}/kernel"] = graph.constant(op.inputs[1]).T  # TFLite (out, in) -> Keras (in, out)
        weights[f"{name}/bias"] = graph.constant(op.inputs[2])
    return keras_state_dict(weights, input_scale=input_scale)


register_shipped("jmu_cvlab")
register_weights("jmu_cvlab.mai22_submitted", importer="jmu_cvlab",
                 source="mv-lab/AISP: mai22-learnedisp/model.tflite (JMU-CVLab's MAI 2022 submission)",
                 licence="none stated (research comparison only)", data="Fujifilm UltraISP (MAI 2022)")
