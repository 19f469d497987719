"""Install profiles: which optional extra a feature needs, and the one-line error when it is missing.

The core install trains, evaluates and develops (PyTorch checkpoints and ``.tflite`` files through
``ai-edge-litert``); ``isplab[export]`` adds the converter and quantizer (litert-torch, ai-edge-quantizer,
which bring jax, litert_converter and transformers); ``isplab[accel]`` the accelerator toolchains
(onnxruntime-qnn with Qualcomm's QNN libraries, onnx).
"""

from __future__ import annotations

import importlib.util

from isplab.errors import IsplabError

#: extra -> the modules it provides
EXTRAS = {"export": ("litert_torch", "ai_edge_quantizer"), "accel": ("onnxruntime_qnn", "onnx")}


class MissingExtraError(IsplabError):
    """A feature needs an optional extra that is not installed."""


def missing(extra: str, what: str) -> str | None:
    """The one-line message naming ``pip install 'isplab[extra]'``, or None when ``extra`` is installed."""
    absent = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return f"{what} needs the '{extra}' extra ({absent[0]} is not installed): pip install 'isplab[{extra}]'"


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` (:func:`missing`'s message) unless ``extra`` is installed."""
    message = missing(extra, what)
    if message:
        raise MissingExtraError(message)
