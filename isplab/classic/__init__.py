"""A classical reference ISP, one module per stage (as in fast-openISP): white balance, demosaic
(colour-demosaicing: Menon 2007 / Malvar 2004 / bilinear), colour matrix, exposure, sRGB + tone curve.
It works on the canonical packed layout of :mod:`isplab.raw.bayer`.

>>> import torch
>>> classic_isp(torch.full((1, 4, 4, 4), 0.2)).shape
torch.Size([1, 3, 8, 8])
"""

from isplab.classic.color import apply_ccm
from isplab.classic.demosaic import demosaic, to_mosaic
from isplab.classic.pipeline import ClassicISP, classic_isp
from isplab.classic.tone import auto_exposure, tone_curve
from isplab.classic.visualise import raw_visualisation
from isplab.classic.white_balance import apply_white_balance, grey_world_gains, white_patch_gains

__all__ = [
    "ClassicISP",
    "apply_ccm",
    "apply_white_balance",
    "auto_exposure",
    "classic_isp",
    "demosaic",
    "grey_world_gains",
    "raw_visualisation",
    "to_mosaic",
    "tone_curve",
    "white_patch_gains",
]
