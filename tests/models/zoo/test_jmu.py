"""JMU-CVLab (isplab.models.zoo.jmu): the architecture of the submitted TFLite file and its Keras weights.

Shapes, gradients, export: ``test_all_models.py``; the TFLite weight import: ``tests/export/test_tflite_weights.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from isplab.models import count_parameters, create_model
from isplab.models.zoo.jmu import TFLITE_INPUT_ORDER, JMUNet, clip_unit, gamma_tone_map, keras_state_dict


def test_jmu_parameter_layout_matches_submission() -> None:
    # 0.041 MB in Table 1 is the TFLite file; its weights are these 6,805 floats (~14 KB is metadata).
    model = create_model("jmu_cvlab")
    assert count_parameters(model) == 6805
    assert model.cbam.spatial.conv.bias is None
    assert model.cbam.channel.mlp[0].out_channels == 4


def test_jmu_output_is_clipped_and_tone_curve() -> None:
    y = create_model("jmu_cvlab")(torch.rand(1, 4, 8, 8) * 4)
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
