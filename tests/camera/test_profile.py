"""Raw domains (isplab.camera.profile): defaults, validation, round trip through plain dicts."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from isplab.camera.profile import (
    CANONICAL_ORDER,
    ISPLAB_DOMAIN,
    ULTRAISP_MAI_DOMAIN,
    RawDomain,
    neutral_from_rgb,
    normalise_neutral,
    rgb_of,
)
from isplab.colorimetry import D65_XY, xy_to_xyz
from isplab.data.camera import CameraFamily
from isplab.errors import IsplabError
from isplab.raw.bayer import MAI_WHITE_LEVEL


def test_isplab_default_domain_is_the_canonical_camera() -> None:
    assert ISPLAB_DOMAIN.black == (0.0,) * 4 and ISPLAB_DOMAIN.white == (float(MAI_WHITE_LEVEL),) * 4
    assert ISPLAB_DOMAIN.order == CANONICAL_ORDER
    # The default camera family's mean white balance, and Brooks et al.'s first matrix taking D65 to it.
    assert ISPLAB_DOMAIN.neutral == pytest.approx((1 / 1.7, 1.0, 1 / 2.15, 1.0))
    white = np.asarray(ISPLAB_DOMAIN.colour_matrix) @ xy_to_xyz(D65_XY)
    np.testing.assert_allclose(white / white[1], rgb_of(ISPLAB_DOMAIN.neutral), atol=3e-4)
    assert replace(ISPLAB_DOMAIN, camera="") == replace(CameraFamily().colour_space(), camera="")
    assert ULTRAISP_MAI_DOMAIN.effective_black == (62.0, 60.0, 58.0, 61.0) and ULTRAISP_MAI_DOMAIN.black == (0.0,) * 4


def test_round_trip_through_json() -> None:
    domain = RawDomain(black=(62, 60, 58, 61), white=1023, neutral=(1.0, 2.0, 1.5, 2.0),
                       colour_matrix=((1.0, 0.1, 0.0), (0.0, 1.0, 0.2), (0.1, 0.0, 1.0)), camera="x")
    assert domain.neutral == (0.5, 1.0, 0.75, 1.0)  # greens normalised to 1
    assert RawDomain.from_dict(json.loads(json.dumps(domain.to_dict()))) == domain


def test_neutral_helpers() -> None:
    assert neutral_from_rgb((0.5, 1.0, 0.8)) == (0.8, 1.0, 0.5, 1.0)
    assert normalise_neutral((1.0, 1.9, 1.0, 2.1)) == pytest.approx((0.5, 0.95, 0.5, 1.05))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"black": 100, "white": 50}, "must exceed black"),
    ({"black": (1, 2, 3)}, "1 or 4 finite values"),
    ({"order": ("R", "G", "B", "G")}, "permutation"),
    ({"neutral": (1, 0, 1, 1)}, "positive"),
    ({"colour_matrix": ((1, 0, 0), (0, 0, 0), (0, 0, 1))}, "invertible 3x3"),
])
def test_invalid_domains_are_one_line_errors(kwargs, match) -> None:
    with pytest.raises(IsplabError, match=match):
        RawDomain(**kwargs)


def test_unknown_keys_name_the_source() -> None:
    with pytest.raises(IsplabError, match="ckpt.pt: unknown raw-domain key.*blak"):
        RawDomain.from_dict({"blak": 0}, "ckpt.pt")
