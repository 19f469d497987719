"""Raw domains (isplab.camera.profile): defaults, validation, round trip through plain dicts."""

from __future__ import annotations

import json

import pytest

from isplab.camera.profile import (
    CANONICAL_ORDER,
    ISPLAB_DOMAIN,
    ULTRAISP_MAI_DOMAIN,
    RawDomain,
    neutral_from_rgb,
    normalise_neutral,
)
from isplab.errors import IsplabError
from isplab.raw.bayer import MAI_WHITE_LEVEL


def test_isplab_default_domain() -> None:
    assert ISPLAB_DOMAIN.black == (0.0,) * 4 and ISPLAB_DOMAIN.white == (float(MAI_WHITE_LEVEL),) * 4
    assert ISPLAB_DOMAIN.neutral is None and ISPLAB_DOMAIN.order == CANONICAL_ORDER
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
