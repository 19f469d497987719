"""Camera profiles: the raw domain of a frame or a model, calibration of a model's neutral, and the adapter
that maps a frame from another camera into a model's raw domain (see docs/camera.md).

``isplab.camera.calibrate`` runs models (torch); it is imported on use, not here.
"""

from isplab.camera.adapt import AdaptRecord, adapt, adapt_frame, adapt_linear, estimate_neutral, frame_domain
from isplab.camera.profile import CANONICAL_ORDER, ISPLAB_DOMAIN, ULTRAISP_MAI_DOMAIN, RawDomain

__all__ = [
    "CANONICAL_ORDER", "ISPLAB_DOMAIN", "ULTRAISP_MAI_DOMAIN", "AdaptRecord", "RawDomain", "adapt", "adapt_frame",
    "adapt_linear", "estimate_neutral", "frame_domain",
]
