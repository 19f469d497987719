"""Team models, part 1: FGARepNet, RFD-CSA, Mobile-Smallnet, JMU-CVLab, ENERZAi.

Shapes, gradients, determinism, fusion and export of every model: ``test_all_models.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from isplab.models import count_parameters, create_model
from isplab.models.reparam import reparameterize
from isplab.models.zoo.enerzai import ENERZAI_T1, EnerzaiConfig, EnerzaiNet, LevelConfig
from isplab.models.zoo.jmu import TFLITE_INPUT_ORDER, JMUNet, clip_unit, gamma_tone_map, keras_state_dict

#: Table 1 TFLite sizes, MB (compared with inference-time params * 4 bytes).
REPORT_MB = {
    "fgarepnet": 0.029,
    "rfdcsa": 0.060,
    "rfdcsa_large": 1.2,
    "mincho_mobile_smallnet": 0.067,
    "enerzai_t1": 0.077,
    "enerzai_t2": 4.5,
}


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name)


@pytest.mark.parametrize("name", list(REPORT_MB))
def test_size_matches_report(name: str) -> None:
    mb = count_parameters(reparameterize(build(name))) * 4 / 1e6
    assert abs(mb / REPORT_MB[name] - 1) <= 0.25, f"{name}: {mb:.4f} MB vs report {REPORT_MB[name]} MB"


@pytest.mark.parametrize("name", ["fgarepnet", "rfdcsa"])
def test_reparameterize_shrinks_model(name: str) -> None:
    model = build(name)
    n_train = count_parameters(model)
    assert count_parameters(reparameterize(model)) < n_train


# --- JMU-CVLab: the architecture of the submitted TFLite file -------------------------------------------


def test_jmu_parameter_layout_matches_submission() -> None:
    # 0.041 MB in Table 1 is the TFLite file; its weights are these 6,805 floats (~14 KB is metadata).
    model = build("jmu_cvlab")
    assert count_parameters(model) == 6805
    assert model.cbam.spatial.conv.bias is None
    assert model.cbam.channel.mlp[0].out_channels == 4


def test_jmu_output_is_clipped_and_tone_curve() -> None:
    y = build("jmu_cvlab")(torch.rand(1, 4, 8, 8) * 4)
    assert y.min() >= 0 and y.max() <= 1
    x = torch.tensor([0.0, 0.5, 1.0])
    g = x ** (1 / 2.2)
    assert torch.allclose(gamma_tone_map(x), 3 * g**2 - 2 * g**3, atol=1e-6)


def test_jmu_clip_equals_clamp() -> None:
    x = torch.cat([torch.linspace(-2, 3, 1001), torch.tensor([0.0, 1.0, 1e-9, 1 - 1e-7])])
    assert (clip_unit(x) - x.clamp(0, 1)).abs().max().item() <= 6e-8


def test_jmu_keras_import_folds_input_order_and_scale() -> None:
    rng = np.random.default_rng(0)
    shapes = {
        "conv2d": (3, 3, 4, 16), "conv2d_1": (3, 3, 16, 16), "conv2d_2": (3, 3, 16, 12),
        "conv_expand": (3, 3, 3, 32), "conv_remap": (3, 3, 32, 3), "dense": (32, 4), "dense_1": (4, 32),
    }
    weights = {}
    for layer, shape in shapes.items():
        weights[f"{layer}/kernel"] = rng.normal(0, 0.2, shape).astype(np.float32)
        weights[f"{layer}/bias"] = rng.normal(0, 0.1, shape[-1]).astype(np.float32)
    weights["conv2d_3/kernel"] = rng.normal(0, 0.2, (7, 7, 2, 1)).astype(np.float32)

    white = 1020.0
    model = JMUNet().eval()
    model.load_state_dict(keras_state_dict(weights, input_scale=white))
    # Reference: the Keras model itself, fed what the submitted graph feeds it.
    keras = JMUNet().eval()
    keras.load_state_dict(keras_state_dict(weights, input_scale=4096.0))
    keras.smallnet.conv1.weight.data = torch.from_numpy(weights["conv2d/kernel"].transpose(3, 2, 0, 1).copy())
    x = torch.rand(1, 4, 8, 12)
    with torch.no_grad():
        expected = keras(x[:, list(TFLITE_INPUT_ORDER)] * white / 4096.0)
        assert (model(x) - expected).abs().max().item() <= 1e-5


# --- ENERZAi search space --------------------------------------------------------------------------------


def test_enerzai_space_is_mutable_by_replace() -> None:
    wider = dataclasses.replace(ENERZAI_T1, levels=(*ENERZAI_T1.levels, LevelConfig(80, 2, 1, True)))
    concat = dataclasses.replace(ENERZAI_T1, skip="concat")
    n_t1 = count_parameters(EnerzaiNet(ENERZAI_T1))
    assert count_parameters(EnerzaiNet(wider)) > n_t1
    assert count_parameters(EnerzaiNet(concat)) > n_t1
    assert EnerzaiNet(wider)(torch.rand(1, 4, 16, 24)).shape == (1, 3, 32, 48)
    assert hash(ENERZAI_T1) == hash(dataclasses.replace(ENERZAI_T1))  # frozen: usable as a cache key


def test_enerzai_rejects_bad_config_and_input() -> None:
    with pytest.raises(ValueError):
        EnerzaiConfig(levels=(LevelConfig(0),))
    with pytest.raises(ValueError):
        EnerzaiConfig(levels=(LevelConfig(8),), skip="sum")
    with pytest.raises(ValueError, match="divisible by 4"):  # the registry entry's constraint
        create_model("enerzai_t1")(torch.rand(1, 4, 16, 18))
