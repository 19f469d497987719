"""Import the constant weights of an official TFLite model into an isplab model's state dict.

The ``.tflite`` flatbuffer is read with the schema bundled in ``ai_edge_litert`` (no TensorFlow, no
interpreter): operators come in execution order with their input/output tensor indices and options,
constant tensors with their data. One *mapper* per architecture walks that graph and pairs its
convolutions with the isplab modules, checking shapes, strides and padding on the way, so a mismatch
in architecture fails loudly instead of loading shuffled weights.

Layout conversions: TFLite ``CONV_2D`` filters are ``OHWI`` -> torch ``OIHW``; ``PRELU`` slopes are
``(1, 1, C)`` -> ``(C,)``; biases are ``(C,)`` as in torch.

Example::

    model = create_model("microisp")
    model.load_state_dict(import_tflite_weights("microisp", "MicroISP.tflite"))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from ai_edge_litert import schema_py_generated as schema
from torch import nn

from isplab.errors import IsplabError
from isplab.export.flatbuffer import Graph, Op, read_graph
from isplab.models.registry import create_model
from isplab.raw.bayer import MAI_WHITE_LEVEL

# ---- generic conv pairing --------------------------------------------------------------------------

#: An isplab conv and the PReLU that follows it in the official graph (``None``: no PReLU).
ConvSlot = tuple[str, nn.Conv2d, str | None]


def _conv_state(graph: Graph, op: Op, name: str, conv: nn.Conv2d, prelu: str | None) -> dict:
    """State-dict entries for one ``CONV_2D`` ``op`` mapped onto module ``name`` (and its PReLU)."""
    where = f"{graph.source}: op {op.index} ({graph.tensors[op.outputs[0]].name}) -> {name}"
    weight = graph.constant(op.inputs[1]).transpose(0, 3, 1, 2)  # OHWI -> OIHW
    if tuple(weight.shape) != tuple(conv.weight.shape):
        raise IsplabError(f"{where}: filter {weight.shape} does not fit {tuple(conv.weight.shape)}")
    stride = (op.options.strideH, op.options.strideW)
    if stride != tuple(conv.stride):
        raise IsplabError(f"{where}: stride {stride} != {tuple(conv.stride)}")
    # SAME on odd kernels at stride 1 is symmetric zero padding k//2 (at stride > 1 TF pads unevenly,
    # which no torch padding reproduces); VALID is no padding.
    same = op.options.padding == schema.Padding.SAME
    want = tuple(k // 2 for k in conv.kernel_size) if same else (0, 0)
    zero_pad = conv.padding_mode == "zeros" or want == (0, 0)
    if want != tuple(conv.padding) or not zero_pad or (same and stride != (1, 1) and want != (0, 0)):
        kind = "SAME" if same else "VALID"
        raise IsplabError(f"{where}: TFLite {kind} != torch {conv.padding_mode} padding {conv.padding}")
    state = {f"{name}.weight": weight, f"{name}.bias": graph.constant(op.inputs[2])}
    nxt = graph.consumers(op.outputs[0])
    has_prelu = len(nxt) == 1 and nxt[0].name == "PRELU"
    if has_prelu != (prelu is not None):
        has = ("has", "has no") if has_prelu else ("has no", "has")
        raise IsplabError(f"{where}: the file {has[0]} a PReLU after this conv, the model {has[1]}")
    if prelu is not None:
        state[f"{prelu}.weight"] = graph.constant(nxt[0].inputs[1]).reshape(-1)
    return state


def _pair_convs(graph: Graph, convs: list[Op], slots: list[ConvSlot], what: str) -> dict:
    if len(convs) != len(slots):
        raise IsplabError(f"{graph.source}: {what} has {len(convs)} convolutions, the model {len(slots)}")
    state: dict = {}
    for op, (name, conv, prelu) in zip(convs, slots, strict=True):
        state.update(_conv_state(graph, op, name, conv, prelu))
    return state


# ---- per-architecture mappers ------------------------------------------------------------------------

#: ``(graph, model, **options) -> state dict`` (numpy arrays or tensors).
Mapper = Callable[..., dict]
_MAPPERS: dict[str, Mapper] = {}


def register_mapper(*model_names: str) -> Callable[[Mapper], Mapper]:
    """Register a ``(graph, model, **options) -> state dict`` mapper for models ``model_names``."""

    def deco(fn: Mapper) -> Mapper:
        for name in model_names:
            _MAPPERS[name] = fn
        return fn

    return deco


def _microisp_slots(model: nn.Module, colour: int) -> list[ConvSlot]:
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


@register_mapper("microisp", "microisp_0.5")
def _map_microisp(graph: Graph, model: nn.Module) -> dict:
    """Official ``MicroISP.tflite``: the final CONCATENATION's inputs are the R, G, B branches.

    Each branch is a chain (its skips add no convs), so its convs in execution order are the official
    definition order; branches are told apart by which concat input they feed, not by file order.
    """
    (out,) = graph.outputs
    concat = graph.producer(out)
    if concat is None or concat.name != "CONCATENATION" or len(concat.inputs) != 3:
        raise IsplabError(f"{graph.source}: expected the output to be a concat of 3 colour planes")
    state: dict = {}
    for colour, plane in enumerate(concat.inputs):
        ops = graph.ancestors(plane)
        convs = [op for op in ops if op.name == "CONV_2D"]
        state.update(_pair_convs(graph, convs, _microisp_slots(model, colour), f"colour branch {colour}"))
        # The head must be depth_to_space(tanh * 0.58 + 0.5, 2); check the constants the model hard-codes.
        consts = [op for op in ops if op.name in ("MUL", "ADD") and graph.producer(op.inputs[1]) is None]
        scale = [graph.constant(op.inputs[1]) for op in consts if op.name == "MUL"]
        shift = [graph.constant(op.inputs[1]) for op in consts if op.name == "ADD"]
        if not (np.allclose(scale, 0.58) and np.allclose(shift, 0.5) and len(scale) == len(shift) == 1):
            raise IsplabError(f"{graph.source}: colour {colour} head is not tanh * 0.58 + 0.5")
    return state


@register_mapper("jmu_cvlab")
def _map_jmu(graph: Graph, model: nn.Module, input_scale: float = MAI_WHITE_LEVEL) -> dict:
    """JMU-CVLab's submitted ``model.tflite`` (Keras graph: smallnet, tone curve, CBAM refinement).

    The file takes raw values, multiplies by 1/4096 and re-stacks the channels before the first conv;
    both are read from the graph, checked against :mod:`isplab.models.zoo.jmu` and folded into
    ``smallnet.conv1`` by its ``keras_state_dict``: the imported model takes the canonical packed raw in
    [0, 1] equal to ``tflite_input / input_scale`` (the white level, 1020 for the MAI data).
    """
    from isplab.models.zoo.jmu import TFLITE_INPUT_ORDER, TFLITE_INPUT_SCALE, keras_state_dict

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


# ---- entry points -------------------------------------------------------------------------------------


def tflite_mappers() -> list[str]:
    """Model names with a TFLite weight mapper."""
    return sorted(_MAPPERS)


def import_tflite_weights(
    model_name: str, tflite_path: str | Path, model: nn.Module | None = None, **options
) -> dict:
    """Read the weights of ``tflite_path`` into a state dict for registered model ``model_name``.

    Args:
        model_name: a name with a mapper (:func:`tflite_mappers`), e.g. ``"microisp"``.
        tflite_path: a float32 ``.tflite`` of the same architecture.
        model: the isplab model to map onto (built with default arguments if omitted).
        options: mapper options, e.g. ``input_scale`` (white level) for ``"jmu_cvlab"``.

    Returns:
        ``{name: torch.Tensor}`` covering every parameter of the model (``load_state_dict(strict=True)``).
    """
    if model_name not in _MAPPERS:
        known = ", ".join(tflite_mappers())
        raise IsplabError(f"no TFLite weight mapper for model {model_name!r}; known: {known}")
    path = Path(tflite_path)
    if not path.is_file():
        raise IsplabError(f"{path}: no such TFLite file. Pass the path of the released .tflite (e.g. MicroISP.tflite)")
    model = create_model(model_name) if model is None else model
    state = _MAPPERS[model_name](read_graph(path), model, **options)
    state = {k: torch.as_tensor(v, dtype=torch.float32).contiguous() for k, v in state.items()}
    expected = model.state_dict()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise IsplabError(f"{path}: mapping for {model_name} incomplete (missing {missing}, extra {extra})")
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise IsplabError(f"{path}: {k} has shape {tuple(v.shape)}, the model {tuple(expected[k].shape)}")
    return state


def load_tflite_model(model_name: str, tflite_path: str | Path, **options) -> nn.Module:
    """``create_model(model_name)`` with the weights of ``tflite_path`` loaded, in eval mode."""
    model = create_model(model_name)
    model.load_state_dict(import_tflite_weights(model_name, tflite_path, model, **options))
    return model.eval()
