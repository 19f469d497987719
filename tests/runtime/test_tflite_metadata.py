"""Named metadata entries of a .tflite (isplab.runtime.tflite_metadata): add, replace, read; graph untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isplab.errors import IsplabError
from isplab.runtime.litert import LiteRTModel
from isplab.runtime.tflite_metadata import RAW_DOMAIN, add_metadata, read_metadata


@pytest.fixture(scope="module")
def tiny() -> bytes:
    import litert_torch

    torch.manual_seed(0)
    conv = nn.Conv2d(4, 12, 3, padding=1).eval()
    return bytes(litert_torch.convert(conv, (torch.rand(1, 4, 8, 8),)).model_content())


def test_entries_are_added_replaced_and_read_back(tiny, tmp_path):
    converter_keys = set(read_metadata(tiny))  # the converter's own entries stay
    first = add_metadata(tiny, {RAW_DOMAIN: b'{"camera": "a"}', "other": b"\x00\x01"})
    second = add_metadata(first, {RAW_DOMAIN: b'{"camera": "b"}'})
    path = tmp_path / "m.tflite"
    path.write_bytes(second)
    entries = read_metadata(path)  # from a file (memory-mapped) as from bytes
    assert entries == read_metadata(second) and set(entries) == converter_keys | {RAW_DOMAIN, "other"}
    assert entries[RAW_DOMAIN] == b'{"camera": "b"}' and entries["other"] == b"\x00\x01"
    retagged = add_metadata(second, {RAW_DOMAIN: b'{"camera": "c"}'})  # same length: the file does not grow
    assert len(retagged) == len(second)


def test_the_graph_computes_the_same(tiny):
    x = np.random.default_rng(0).random((1, 4, 8, 8), dtype=np.float32)  # the plain conv is NCHW
    tagged = add_metadata(tiny, {RAW_DOMAIN: b"{}"})
    assert np.array_equal(LiteRTModel(tiny)(x), LiteRTModel(tagged)(x))


def test_a_file_that_is_no_flatbuffer_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    with pytest.raises(IsplabError, match="bad.tflite: not a readable .tflite"):
        read_metadata(bad)
    (tmp_path / "empty.tflite").write_bytes(b"")
    for path in (tmp_path / "empty.tflite", tmp_path / "missing.tflite"):
        with pytest.raises(IsplabError, match=f"{path.name}: cannot read it as a .tflite"):
            read_metadata(path)

