"""Weight cards: every set of weights isplab knows, named ``MODEL.TAG`` (after timm's pretrained configs).

A card says where the weights come from and what they expect: the model, source and licence, the data they
were trained on, their raw domain (levels and colour space) and, for shipped weights, their scores. Cards are
registered beside their model (``register_weights`` in ``models/microisp.py``, ``models/zoo/...``):

* **shipped** weights live in the package (``isplab/weights/MODEL.TAG.safetensors``): the tensors, with the
  card's measured part (raw domain, scores, provenance) in the file's metadata, no pickle;
* **importable** weights are a peer's file isplab cannot ship (licence): ``isplab import`` converts it once
  into the user's weights cache (``$ISPLAB_WEIGHTS``, default ``~/.cache/isplab/weights``), after which the card
  resolves like a shipped one.

``pretrained:MODEL`` names the model's default card, ``pretrained:MODEL.TAG`` any card; both work wherever
``--weights`` is taken (:func:`isplab.models.weights.resolve_weights`).

>>> card = weight_card("microisp.mai22_official")
>>> card.kind, card.licence.split()[0]
('importable', 'CC')
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from isplab.errors import IsplabError
from isplab.registry import Entry, Registry

#: The metadata key of a weights file's card (JSON).
CARD_KEY = "isplab.card"

#: Shipped cards: the script that trains them, their licence and data.
SHIPPED_TAG = "embedded"
SHIPPED_SOURCE = "isplab tools/pretrain.py (this repository)"
SHIPPED_LICENCE = "MIT (isplab)"
SHIPPED_DATA = "isplab's embedded stream: training photos through spectral cameras under many lights"


@dataclass(frozen=True)
class WeightCard(Entry):
    """One set of weights (``name`` = ``MODEL.TAG``).

    Attributes:
        model: the registered model the weights fill.
        tag: which weights of that model.
        source: where they come from (a script, a repository and file).
        licence: the terms they come with.
        data: what they were trained on.
        file: the shipped file's name in ``isplab/weights/`` (shipped cards), else ``None``.
        importer: the ``isplab import`` source that converts the peer's file (importable cards), else ``None``.
        default: the model's default card (``pretrained:MODEL``).

    The measured part (raw domain, scores, provenance) is in the weights file itself (:meth:`metadata`).
    """

    model: str = ""
    tag: str = ""
    source: str = ""
    licence: str = ""
    data: str = ""
    file: str | None = None
    importer: str | None = None
    default: bool = False

    @property
    def kind(self) -> str:
        return "shipped" if self.file else "importable"

    def path(self) -> Path:
        """The weights file: the packaged one, or the cache's for an imported card."""
        if self.file:
            return shipped_folder() / self.file
        return weights_cache() / f"{self.name}.safetensors"

    def available(self) -> bool:
        return self.path().is_file()

    def metadata(self) -> dict[str, Any]:
        """The card part stored in the file (raw domain, scores, provenance); ``{}`` before it exists."""
        if not self.available():
            return {}
        verify_shipped(self.path())
        return read_card(self.path())


WEIGHTS: Registry[WeightCard] = Registry("weights", WeightCard, hint="see `isplab models --pretrained`")


def _located(card_name: str) -> Any:
    return lambda: WEIGHTS.get(card_name).path()


def register_weights(name: str, **fields: Any) -> WeightCard:
    """Register the card ``MODEL.TAG`` (fields as :class:`WeightCard`); its factory returns the file's path."""
    model, _, tag = name.rpartition(".")  # model names may hold a dot (microisp_0.5), tags never do
    if not model or not tag:
        raise ValueError(f"weights are named MODEL.TAG, got {name!r}")
    description = fields.pop("description", f"{model} weights: {fields.get('data', '')}")
    return WEIGHTS.add(name, _located(name), description, model=model, tag=tag, **fields)


def register_shipped(model: str) -> WeightCard:
    """The card of ``model``'s weights shipped in the package (``MODEL.embedded``, its default)."""
    return register_weights(f"{model}.{SHIPPED_TAG}", file=f"{model}.{SHIPPED_TAG}.safetensors",
                            source=SHIPPED_SOURCE, licence=SHIPPED_LICENCE, data=SHIPPED_DATA, default=True)


def shipped_folder() -> Path:
    """The package's folder of shipped weights (``isplab/weights/``, with its ``SHA256SUMS``)."""
    return Path(str(resources.files("isplab").joinpath("weights")))


def verify_shipped(path: Path) -> None:
    """A file of :func:`shipped_folder` must match its ``SHA256SUMS`` (hashed once per file version; safetensors
    checks its header, not the bytes of the tensors): a damaged install is a one-line :class:`DataError`."""
    from isplab.integrity import verify_listed

    if path.resolve().parent == shipped_folder().resolve():
        verify_listed(path, "reinstall isplab, or restore isplab/weights/ (`git checkout isplab/weights`); "
                            "after retraining, `python tools/pretrain.py --manifest` rewrites the checksums")


def weights_cache() -> Path:
    """The user's weights cache (imported cards): ``$ISPLAB_WEIGHTS`` or ``~/.cache/isplab/weights``."""
    return Path(os.environ.get("ISPLAB_WEIGHTS") or Path.home() / ".cache" / "isplab" / "weights")


def _ensure_registered() -> None:
    import isplab.models  # noqa: F401  (registers every model and, beside each, its cards)
    import isplab.models.imports  # noqa: F401  (the community weights' cards, beside their importers)


def weight_card(name: str) -> WeightCard:
    """The card ``MODEL.TAG``, or a model's default card for ``MODEL``; unknown names say what exists."""
    _ensure_registered()
    if name in WEIGHTS:
        return WEIGHTS.get(name)
    defaults = [c for c in WEIGHTS if c.model == name and c.default]
    if defaults:
        return defaults[0]
    from isplab.models.registry import MODELS, model_entry

    model = name if name in MODELS else name.rpartition(".")[0] or name
    model_entry(model)  # an unknown model says so, not "no weights"
    known = ", ".join(c.name for c in WEIGHTS if c.model == model) or "none"
    raise IsplabError(f"no weights {name!r}: cards of this model: {known} (`isplab models --pretrained`)")


def list_cards(pattern: str = "*") -> list[WeightCard]:
    """Cards whose ``MODEL.TAG`` matches ``pattern``, sorted."""
    _ensure_registered()
    return [WEIGHTS.get(n) for n in WEIGHTS.names(pattern)]


def read_card(path: str | Path) -> dict[str, Any]:
    """The card stored in a weights file's metadata (``{}`` for a file without one)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            text = (f.metadata() or {}).get(CARD_KEY)
        card = {} if text is None else json.loads(text)
    except PermissionError:
        raise IsplabError(f"{path}: cannot read this file (permission denied). Fix its permissions") from None
    except Exception as exc:  # safetensors and json raise their own error types for damaged files
        raise IsplabError(f"{path}: not a readable safetensors weights file ({exc.__class__.__name__}). "
                          "Re-export or re-train it") from None
    if not isinstance(card, dict):
        raise IsplabError(f"{path}: damaged weights file: its {CARD_KEY} metadata is not a mapping. "
                          "Re-export or re-train it")
    return card
