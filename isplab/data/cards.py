"""Colour cards: synthetic training scenes of flat colour patches, so a model learns exact flat colours.

Photos teach texture but hold few large flat areas of saturated colour; a model trained on them alone
renders a ColorChecker's patches several CIEDE2000 off (docs/camera.md). A card is a background of one colour
with rectangles of others laid over it (sharp edges, some fully inside others), every colour drawn
uniformly in sRGB (a third of them grey). Cards go through the camera family like any crop, so the model
sees them as raw with noise; the target is the card itself.

>>> import numpy as np
>>> colour_cards(2, 32, np.random.default_rng(0)).shape
torch.Size([2, 3, 32, 32])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: Rectangles per card (uniform), and the smallest rectangle side as a fraction of the card.
RECTANGLES = (4, 12)
MIN_SIDE = 0.15
GREY_SHARE = 1 / 3


def _colours(n: int, rng: np.random.Generator) -> np.ndarray:
    colours = rng.uniform(0, 1, (n, 3))
    grey = rng.random(n) < GREY_SHARE
    colours[grey] = colours[grey, :1]
    return colours


def colour_cards(n: int, size: int, rng: np.random.Generator) -> Tensor:
    """``n`` cards ``(n, 3, size, size)`` in [0, 1] sRGB. Pure function of ``rng``'s state."""
    cards = np.empty((n, size, size, 3), dtype=np.float32)
    for card in cards:
        card[:] = _colours(1, rng)[0]
        count = int(rng.integers(RECTANGLES[0], RECTANGLES[1] + 1))
        low = max(1, int(MIN_SIDE * size))
        sides = rng.integers(low, size + 1, (count, 2))
        corners = (rng.random((count, 2)) * (size - sides + 1)).astype(int)
        for (h, w), (y, x), colour in zip(sides, corners, _colours(count, rng), strict=True):
            card[y:y + h, x:x + w] = colour
    return torch.from_numpy(cards).permute(0, 3, 1, 2).contiguous()
