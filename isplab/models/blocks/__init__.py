"""Shared building blocks of the team models; every name is re-exported here.

Blocks with a ``reparameterize()`` method fuse their training-time branches in place; call
:func:`isplab.models.reparam.reparameterize` on a whole model rather than on blocks one by one.
"""

from isplab.models.blocks.act import make_activation
from isplab.models.blocks.attention import CBAM, CSA, ECA, ESA, ChannelAttention, SpatialAttention
from isplab.models.blocks.grad_reverse import GradientReversal, grad_reverse
from isplab.models.blocks.reparam_blocks import ECB, ERepConv, SeqConv, erep_kernel_shapes
from isplab.models.blocks.residual import RFDB, SRB, ResidualBlock, ResidualGroup
from isplab.models.blocks.wavelet import HaarDWT, HaarIDWT

__all__ = [
    "CBAM", "CSA", "ECA", "ECB", "ESA", "RFDB", "SRB", "ChannelAttention", "ERepConv", "GradientReversal",
    "HaarDWT", "HaarIDWT", "ResidualBlock", "ResidualGroup", "SeqConv", "SpatialAttention",
    "erep_kernel_shapes", "grad_reverse", "make_activation",
]
