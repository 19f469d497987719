"""Import the constant weights of an official TFLite model into an isplab model's state dict.

The ``.tflite`` flatbuffer is read with the schema bundled in ``ai_edge_litert`` (no TensorFlow, no
interpreter): operators come in execution order with their input/output tensor indices and options,
constant tensors with their data. One *mapper* per architecture, registered next to its model in
:data:`isplab.models.registry.TFLITE_MAPPERS`, walks that graph and pairs its convolutions with the isplab
modules (:func:`pair_convs`), checking shapes, strides and padding on the way, so a mismatch in architecture
fails loudly instead of loading shuffled weights. This module keeps only that generic machinery.

Layout conversions: TFLite ``CONV_2D`` filters are ``OHWI`` -> torch ``OIHW``; ``PRELU`` slopes are
``(1, 1, C)`` -> ``(C,)``; biases are ``(C,)`` as in torch.

Example::

    model = create_model("microisp")
    model.load_state_dict(import_tflite_weights("microisp", "MicroISP.tflite"))
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from ai_edge_litert import schema_py_generated as schema
from torch import nn

from isplab.camera.profile import RawDomain
from isplab.errors import IsplabError
from isplab.export.flatbuffer import Graph, Op, read_graph
from isplab.models.registry import TFLITE_MAPPERS, create_model

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


def pair_convs(graph: Graph, convs: list[Op], slots: list[ConvSlot], what: str) -> dict:
    """State dict of ``convs`` (``CONV_2D`` ops in file order) mapped one to one onto ``slots``."""
    if len(convs) != len(slots):
        raise IsplabError(f"{graph.source}: {what} has {len(convs)} convolutions, the model {len(slots)}")
    state: dict = {}
    for op, (name, conv, prelu) in zip(convs, slots, strict=True):
        state.update(_conv_state(graph, op, name, conv, prelu))
    return state


# ---- entry points -------------------------------------------------------------------------------------


def tflite_mappers() -> list[str]:
    """Model names with a TFLite weight mapper."""
    return TFLITE_MAPPERS.names()


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
    if model_name not in TFLITE_MAPPERS:
        known = ", ".join(tflite_mappers())
        raise IsplabError(f"no TFLite weight mapper for model {model_name!r}; known: {known}")
    path = Path(tflite_path)
    if not path.is_file():
        raise IsplabError(f"{path}: no such TFLite file. Pass the path of the released .tflite (e.g. MicroISP.tflite)")
    model = create_model(model_name) if model is None else model
    state = TFLITE_MAPPERS.get(model_name).factory(read_graph(path), model, **options)
    state = {k: torch.as_tensor(v, dtype=torch.float32).contiguous() for k, v in state.items()}
    expected = model.state_dict()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise IsplabError(f"{path}: mapping for {model_name} incomplete (missing {missing}, extra {extra})")
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise IsplabError(f"{path}: {k} has shape {tuple(v.shape)}, the model {tuple(expected[k].shape)}")
    return state


def imported_domain(model_name: str, input_scale: float | None = None) -> RawDomain:
    """The raw domain the weights ``model_name``'s mapper reads were trained in (registered with the mapper);
    ``input_scale`` (the file's white level, for mappers that take one) replaces its white level."""
    domain = TFLITE_MAPPERS.get(model_name).domain
    return domain if input_scale is None else replace(domain, white=(float(input_scale),) * 4)


def load_tflite_model(model_name: str, tflite_path: str | Path, **options) -> nn.Module:
    """``create_model(model_name)`` with the weights of ``tflite_path`` loaded, in eval mode."""
    model = create_model(model_name)
    model.load_state_dict(import_tflite_weights(model_name, tflite_path, model, **options))
    return model.eval()
