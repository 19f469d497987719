"""Demosaicing of packed raw: ``(N, 4, h, w)`` canonical ``(B, G_r, R, G_b)`` -> RGB ``(N, 3, 2h, 2w)``.

The algorithms are colour-demosaicing's (colour-science): ``menon`` (Menon et al. 2007, DDFAPD, with
refining; the default), ``malvar`` (Malvar et al. 2004) and ``bilinear``. The packed planes are put back on
an RGGB mosaic, whatever the sensor's CFA (canonical packing places the planes like an RGGB tile, see
:mod:`isplab.raw.bayer`), so the output is on that grid, as for the learned models. Numpy inside: not
differentiable.

>>> import torch
>>> demosaic(torch.full((1, 4, 8, 8), 0.5)).shape
torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from isplab.raw.bayer import CFA, unpack


def _algorithms() -> dict[str, Callable[..., np.ndarray]]:
    with warnings.catch_warnings():  # colour-science warns that matplotlib (plotting) is absent
        warnings.simplefilter("ignore")
        import colour_demosaicing as cd  # ~1 s import: only when a classical ISP runs

    return {"menon": cd.demosaicing_CFA_Bayer_Menon2007, "malvar": cd.demosaicing_CFA_Bayer_Malvar2004,
            "bilinear": cd.demosaicing_CFA_Bayer_bilinear}


#: Demosaicing algorithms by name, with the reference each follows.
METHODS = {"menon": "Menon 2007 (DDFAPD)", "malvar": "Malvar 2004", "bilinear": "bilinear"}


def to_mosaic(packed: Tensor) -> Tensor:
    """Packed ``(N, 4, h, w)`` -> the RGGB mosaic ``(N, 1, 2h, 2w)`` it came from."""
    if packed.ndim != 4 or packed.shape[1] != 4:
        raise ValueError(f"packed raw must be (N, 4, h, w), got shape {tuple(packed.shape)}")
    return torch.stack([torch.from_numpy(unpack(p.cpu().numpy(), CFA.RGGB)) for p in packed])[:, None]


def demosaic(packed: Tensor, method: str = "menon") -> Tensor:
    """Packed ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)`` with ``method`` (see :data:`METHODS`), same dtype."""
    if method not in METHODS:
        raise ValueError(f"unknown demosaic method {method!r}; use one of {', '.join(METHODS)}")
    algorithm = _algorithms()[method]
    mosaics = to_mosaic(packed)[:, 0].double().numpy()
    rgb = np.stack([algorithm(m, CFA.RGGB.value) for m in mosaics])  # (N, H, W, 3)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).to(packed.dtype).contiguous()
