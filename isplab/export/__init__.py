"""Export: TFLite conversion with the graph optimiser, parity proof, mobile-GPU audit, inspection, import of
official TFLite weights.

Attributes load lazily so ``import isplab.export`` stays cheap (the converter pulls in litert-torch).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it
_EXPORTS = {
    "export_tflite": "convert", "ExportReport": "convert", "ExportError": "convert",
    "convert_float": "convert", "parity_samples": "convert",
    "optimize_for_export": "optimize", "RewriteError": "optimize",
    "check_parity": "parity", "ParityReport": "parity", "ParityError": "parity", "ParityBudget": "parity",
    "Sample": "samples", "raw_frame_samples": "samples",
    "load_export_model": "sources", "dataset_items": "sources", "read_raw_frames": "sources",
    "audit_tflite": "audit", "AuditReport": "audit",
    "inspect_tflite": "tflite_info", "TfliteInfo": "tflite_info",
    "import_tflite_weights": "tflite_weights", "load_tflite_model": "tflite_weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'isplab.export' has no attribute {name!r}")
    return getattr(importlib.import_module(f"isplab.export.{_EXPORTS[name]}"), name)
