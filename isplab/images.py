"""Float pictures -> integer pixels: the one place a ``(3, H, W)`` float image in [0, 1] becomes uint8/uint16.

numpy only (no torch), so the develop path that writes pictures stays light.

>>> import numpy as np
>>> to_uint8(np.array([[[-0.1, 0.5, 1.2]]] * 3, dtype=np.float32))[0].tolist()
[[0, 0, 0], [128, 128, 128], [255, 255, 255]]
"""

from __future__ import annotations

import numpy as np


def quantize(rgb: np.ndarray, bits: int = 8, rows: int = 256, channels_last: bool = False) -> np.ndarray:
    """``(3, H, W)`` float (``(H, W, 3)`` with ``channels_last``) -> contiguous ``(H, W, 3)`` uint8 (``bits=8``)
    or uint16 (``bits=16``).

    Values are clipped to [0, 1], scaled by ``2**bits - 1`` and rounded half up (``+ 0.5``, then truncated).
    Done in bands of ``rows`` through one reused float buffer, so the temporaries stay small next to a
    12 MP frame; ``channels_last`` input (the develop path's layout) needs no transposition at all.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, not {bits}")
    peak = 2**bits - 1
    hwc = rgb if channels_last else rgb.transpose(1, 2, 0)
    out = np.empty((hwc.shape[0], hwc.shape[1], 3), dtype=np.uint8 if bits == 8 else np.uint16)
    buffer = np.empty((min(rows, hwc.shape[0]), hwc.shape[1], 3), dtype=np.result_type(hwc.dtype, np.float32))
    for y in range(0, hwc.shape[0], rows):
        band = buffer[:len(hwc[y:y + rows])]
        # x * peak + 0.5 clipped to [0.5, peak + 0.5] equals clip(x, 0, 1) * peak + 0.5 bit for bit
        np.multiply(hwc[y:y + rows], peak, out=band)
        np.add(band, 0.5, out=band)
        np.clip(band, 0.5, peak + 0.5, out=band)
        np.copyto(out[y:y + rows], band, casting="unsafe")
    return out


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 (clipped, rounded half up): :func:`quantize` at 8 bits."""
    return quantize(rgb, 8)
