"""Fuzzing: mutated DNG, PNG mosaic, ``.tflite``, checkpoint and safetensors weight files through
``isplab develop`` / ``inspect``.

Every case must end in exit 0 with a picture that decodes, or a non-zero exit with one clean line on stderr:
never a traceback, never a raw Python exception passed off as a message (``skipped x: TypeError: ...``),
never a signal. Cases run in a runner subprocess (``fuzz_runner.py``), so a crash is seen, attributed to its
case, and the remaining cases still run.

Seeded and small by default (``ISPLAB_FUZZ_N`` = 6 mutations per file kind, ``ISPLAB_FUZZ_SEED`` = 0); a
larger campaign: ``ISPLAB_FUZZ_N=100 pytest tests/reliability/test_fuzz.py -s`` (prints the totals).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from isplab.models.weights import load_checkpoint, pretrained_path, save_checkpoint
from isplab.raw.bayer import CFA

N = int(os.environ.get("ISPLAB_FUZZ_N", "6"))
SEED = int(os.environ.get("ISPLAB_FUZZ_SEED", "0"))
RUNNER = Path(__file__).with_name("fuzz_runner.py")
#: A Python exception shown as a message: ``develop`` reports a file's unexpected exception as
#: ``skipped FILE: TypeError: ...`` and goes on (an isplab error is its own message, naming the file first).
RAW_EXCEPTION = re.compile(r"^skipped [^:]+: [A-Z]\w*(Error|Exception): ")


def _fix_png_crcs(data: bytes) -> bytes:
    """Recompute the CRC of every chunk that still parses, so a mutation reaches the decoder, not the CRC check."""
    out, pos = bytearray(data[:8]), 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + length
        if end > len(data):
            break
        body = data[pos + 4:end - 4]
        out += data[pos:pos + 4] + body + struct.pack(">I", zlib.crc32(body))
        pos = end
    return bytes(out + data[pos:])


def mutate(data: bytes, rng: np.random.Generator, head: int = 0) -> bytes:
    """One random mutation: bit flips, a random or constant run, truncation, insertion or a duplicated slice;
    with ``head`` the position is drawn from the first ``head`` bytes half the time (headers, tags)."""
    buf = bytearray(data)
    span = head if head and rng.random() < 0.5 else len(buf)
    kind = rng.integers(6)
    if kind == 0:
        for _ in range(rng.integers(1, 17)):
            pos = rng.integers(span)
            buf[pos] ^= 1 << rng.integers(8)
    elif kind in (1, 2):
        pos, n = rng.integers(span), rng.integers(1, 64)
        buf[pos:pos + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes() if kind == 1 else bytes([
            rng.choice([0, 255])]) * n
    elif kind == 3:
        del buf[rng.integers(1, len(buf)):]
    elif kind == 4:
        pos = rng.integers(span)
        buf[pos:pos] = rng.integers(0, 256, rng.integers(1, 64), dtype=np.uint8).tobytes()
    else:
        a = rng.integers(len(buf))
        b = min(len(buf), a + rng.integers(1, 256))
        pos = rng.integers(len(buf))
        buf[pos:pos] = buf[a:b]
    return bytes(buf)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, write_dng, write_png16, smallnet_tflite):
    """One valid file of each kind (small frames) and a frame to develop with the mutated models."""
    root = tmp_path_factory.mktemp("fuzz-seeds")
    rng = np.random.default_rng(0)
    mosaic = rng.integers(40, 1000, (64, 64))
    shipped = pretrained_path("smallnet")  # a weight card (safetensors), and the same weights as a .pt checkpoint
    shutil.copy(shipped, root / "smallnet.safetensors")
    save_checkpoint(root / "smallnet.pt", load_checkpoint(shipped))
    return {"dng": write_dng(root / "shot.dng", mosaic, CFA.RGGB, white=1023),
            "png": write_png16(root / "shot.png", mosaic), "tflite": smallnet_tflite, "pt": root / "smallnet.pt",
            "safetensors": root / "smallnet.safetensors"}


def cases(seeds: dict, folder: Path, n: int, seed: int) -> list[dict]:
    """``n`` mutations of each seed file and the commands that read them."""
    rng = np.random.default_rng(seed)
    frame = str(seeds["png"])
    found = []
    for kind, head in (("dng", 512), ("png", 64), ("tflite", 1024), ("pt", 512), ("safetensors", 1024)):
        base = Path(seeds[kind]).read_bytes()
        for i in range(n):
            data = mutate(base, rng, head)
            if kind == "png" and rng.random() < 0.5:
                data = _fix_png_crcs(data)
            path = folder / f"{kind}-{i}" / f"mutant{Path(seeds[kind]).suffix}"
            path.parent.mkdir()
            path.write_bytes(data)
            out = str(path.parent / "out")
            if kind in ("dng", "png"):
                weights = "classic" if kind == "dng" and i % 2 == 0 else "pretrained:smallnet"
                found.append({"argv": ["develop", str(path), "--weights", weights, "--out", out, "--quiet"],
                              "out": out})
            else:
                found.append({"argv": ["develop", frame, "--weights", str(path), "--out", out, "--quiet"],
                              "out": out})
            if kind == "tflite":
                found.append({"argv": ["inspect", str(path)], "out": None})
    return found


def run_cases(todo: list[dict], folder: Path) -> list[dict]:
    """Every case's record; a runner killed by a signal is restarted after the case that killed it."""
    (folder / "cases.json").write_text(json.dumps(todo))
    log, results, first = folder / "log.jsonl", {}, 0
    while first < len(todo):
        proc = subprocess.run([sys.executable, str(RUNNER), str(folder / "cases.json"), str(log), str(first)],
                              capture_output=True, text=True, timeout=600)
        events = [json.loads(line) for line in log.read_text().splitlines()]
        results.update({e["case"]: e for e in events if e["event"] == "end"})
        started = [e["case"] for e in events if e["event"] == "start"]
        if proc.returncode == 0:
            break
        crashed = max(started)
        results[crashed] = {"case": crashed, "outcome": "crash", "code": proc.returncode,
                            "stderr": proc.stderr[-2000:]}
        first = crashed + 1
    return [results[i] for i in range(len(todo))]


def verdict(result: dict) -> str:
    """``ok`` (exit 0, pictures decode), ``clean error`` (exit != 0, one actionable line) or the failure."""
    if result["outcome"] != "exit":
        return result["outcome"]
    if result["code"] == 0:
        return "ok" if result["decodes"] is True else f"undecodable output: {result['decodes']}"
    lines = [line for line in result["stderr"].splitlines() if line.strip() and not line.startswith("warning:")]
    if "Traceback" in result["stderr"] or len(lines) != 1:
        return "not one line"
    return "raw exception" if RAW_EXCEPTION.search(lines[0]) else "clean error"


def test_mutated_inputs_end_in_a_picture_or_one_clean_line(seeds, tmp_path):
    todo = cases(seeds, tmp_path, N, SEED)
    results = run_cases(todo, tmp_path)
    verdicts = [verdict(r) for r in results]
    totals = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    print(f"fuzz: {len(todo)} cases (N={N}, seed={SEED}): {totals}")
    bad = [(todo[i]["argv"], v, results[i]["stderr"][-600:]) for i, v in enumerate(verdicts)
           if v not in ("ok", "clean error")]
    assert not bad, "\n\n".join(f"{' '.join(argv)}\n-> {v}\n{err}" for argv, v, err in bad)
    assert totals.get("clean error", 0) >= len(todo) // 4  # the mutations do reach the error paths
