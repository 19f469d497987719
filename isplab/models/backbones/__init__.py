"""Frozen feature extractors for perceptual losses, with torchvision-compatible ``state_dict`` keys.

No torchvision import: the layouts are re-declared so torchvision's ImageNet weights, saved once elsewhere
as a state dict file, load here directly (see ``docs/losses.md``).
"""

from isplab.models.backbones.resnet import RESNET50_LAYERS, ResNet50
from isplab.models.backbones.vgg import VGG19, VGG19_LAYERS

__all__ = ["RESNET50_LAYERS", "VGG19", "VGG19_LAYERS", "ResNet50"]
