"""Arhire & Timofte's architectures (isplab.models.zoo.arhire); equality with their code: test_imports.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from isplab.models import count_parameters, create_model
from isplab.models.ops import depth_to_space
from isplab.models.zoo.arhire import _three_channel_split


def test_three_channel_split_places_each_photosite_in_its_colour_plane() -> None:
    packed = torch.tensor([5.0, 2.0, 3.0, 4.0]).view(1, 4, 1, 1)  # canonical B, G_r, R, G_b
    weight, bias = _three_channel_split()
    rgb = depth_to_space(F.conv2d(packed, weight, bias), 2)[0]  # (3, 2, 2): one RGGB tile
    assert rgb[0].tolist() == [[3, 1], [1, 1]]  # R at (0, 0), 1 elsewhere (their preprocessing)
    assert rgb[1].tolist() == [[1, 2], [4, 1]]  # G_r at (0, 1), G_b at (1, 0)
    assert rgb[2].tolist() == [[1, 1], [1, 5]]  # B at (1, 1)


def test_sizes_match_the_released_files() -> None:
    assert count_parameters(create_model("robustisp")) == 1_616
    assert count_parameters(create_model("rmfanet_tiny")) == 29_223
    assert set(create_model("rmfanet_tiny").state_dict()) >= {"input_module.0.weight", "output_module.0.bias",
                                                              "rmfa_blocks.1.channel_attention.fc.2.weight"}
