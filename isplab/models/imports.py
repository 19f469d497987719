"""Community PyTorch weights into isplab checkpoints (``isplab import SOURCE --from FILE.pth``).

Each source names the isplab model it maps onto, how its state dict maps, and the raw domain its authors
normalised inputs into, which the checkpoint then carries (:class:`~isplab.camera.profile.RawDomain`).
Equality with the authors' own ``model.py`` is proven in ``tests/models/test_imports.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from isplab.camera.profile import ULTRAISP_BLACK, RawDomain
from isplab.errors import IsplabError
from isplab.models.cards import register_weights
from isplab.models.registry import create_model
from isplab.models.weights import load_data_only, load_weights
from isplab.registry import Entry, Registry

StateDict = dict[str, torch.Tensor]

#: Arhire & Timofte's ``run_inference.py``: packed ``(raw - black) / (1023 - black)`` with their per-channel
#: black levels, in the official loaders' slicing (= isplab's canonical order).
ARHIRE_DOMAIN = RawDomain(black=ULTRAISP_BLACK, white=1023.0,
                          camera="Arhire & Timofte CVPRW 2025 input: (raw - 62/60/58/61) / (1023 - black)")

#: Their RMFA-Net preprocessing: ``clamp(raw - 63, 0) / 1023`` on every photosite, i.e. black 63 and a
#: white level 1023 above it.
ARHIRE_RMFA_DOMAIN = RawDomain(black=63.0, white=63.0 + 1023.0,
                               camera="Arhire & Timofte CVPRW 2025 RMFA-Net input: clamp(raw - 63, 0) / 1023")


@dataclass(frozen=True)
class ImportSource(Entry):
    """``factory``: ``(their state dict) -> isplab state dict`` for ``model``; ``domain``: their input."""

    model: str
    domain: RawDomain


SOURCES: Registry[ImportSource] = Registry("import source", ImportSource, hint="see `isplab import --help`")


def crd_to_dcr(channels: int, block: int = 2) -> list[int]:
    """Output-channel order taking a conv that feeds PyTorch ``pixel_shuffle`` (CRD: ``c*b*b + by*b + bx``)
    to one feeding TensorFlow ``depth_to_space`` (DCR: ``(by*b + bx)*C + c``): new channel ``j`` is old
    ``crd_to_dcr(C)[j]``."""
    return [c * block * block + offset for offset in range(block * block) for c in range(channels)]


def _shuffle_last_conv(state: StateDict, conv: str = "conv3") -> StateDict:
    order = crd_to_dcr(3)
    return {k: (v[order] if k in (f"{conv}.weight", f"{conv}.bias") else v) for k, v in state.items()}


def _as_is(state: StateDict) -> StateDict:
    return dict(state)


SOURCES.add("efficientisp", _shuffle_last_conv, "Arhire EfficientISP .pth (CVPRW 2025) -> mialgo_3conv, last conv "
            "permuted CRD -> DCR", model="mialgo_3conv", domain=ARHIRE_DOMAIN)
SOURCES.add("robustisp", _shuffle_last_conv, "Arhire RobustISP .pth (CVPRW 2025) -> robustisp, last conv permuted "
            "CRD -> DCR", model="robustisp", domain=ARHIRE_DOMAIN)
SOURCES.add("rmfanet_tiny", _as_is, "Arhire RMFA-Net tiny .pth (CVPRW 2025) -> rmfanet_tiny (same names)",
            model="rmfanet_tiny", domain=ARHIRE_RMFA_DOMAIN)


# The released weights (pretrained/ of AndreiiArhire/Learned-Lightweight-Smartphone-ISP-with-Unpaired-Data):
# importable cards, converted once by `isplab import SOURCE --from FILE --as MODEL.TAG`.
_ARHIRE = "AndreiiArhire/Learned-Lightweight-Smartphone-ISP-with-Unpaired-Data (CVPRW 2025): pretrained/"
_RUNS = {"paired": "paired", "unpaired": "unpaired", "paired_wo_adv_losses": "paired_noadv"}
for _source, _model, _file, _sets in (("efficientisp", "mialgo_3conv", "Efficient_ISP", ("Fujifilm", "ZRR")),
                                      ("robustisp", "robustisp", "Robust", ("Fujifilm",)),
                                      ("rmfanet_tiny", "rmfanet_tiny", "RMFA_TINY", ("Fujifilm",))):
    for _set in _sets:
        for _run, _tag in _RUNS.items():
            _prefix = "" if _model != "mialgo_3conv" else "efficientisp_"
            register_weights(f"{_model}.{_prefix}{'ultraisp' if _set == 'Fujifilm' else 'zurich'}_{_tag}",
                             importer=_source, source=f"{_ARHIRE}{_set}/{_file}_{_run}_step_*.pth",
                             licence="none stated (research comparison only)",
                             data="Fujifilm UltraISP (MAI 2022)" if _set == "Fujifilm" else
                             "Zurich RAW-to-RGB (Huawei P20 raws, Canon 5D targets)")


def pytorch_sources() -> list[str]:
    """Source names :func:`import_pytorch` accepts."""
    return SOURCES.names()


def import_pytorch(source: str, path: str | Path) -> tuple[str, nn.Module, RawDomain]:
    """Read a community ``.pth`` state dict into its isplab model.

    Returns:
        ``(model name, model in eval mode, the raw domain the weights expect)``.
    """
    entry = SOURCES.get(source)
    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: no such file. Pass the {source} .pth state dict")
    state = load_data_only(path, "not a readable PyTorch state dict", f"Pass the {source} .pth state dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise IsplabError(f"{path}: expected a state dict (name -> tensor), as torch.save(model.state_dict())")
    model = create_model(entry.model)
    load_weights(model, entry.factory(state), path, entry.model)
    return entry.model, model.eval(), entry.domain
