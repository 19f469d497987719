"""Raw sensor data: Bayer packing and normalisation (:mod:`.bayer`) and file readers (:mod:`.readers`)."""

from isplab.raw.bayer import CFA, augment_pair, normalize, pack, unpack

__all__ = ["CFA", "augment_pair", "normalize", "pack", "unpack"]
