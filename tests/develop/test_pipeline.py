"""Developing files (isplab.develop.pipeline, ``isplab develop``): every input kind, bad files, settings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isplab.cli import main
from isplab.develop.pipeline import (
    DevelopSettings,
    check_settings,
    develop_file,
    develop_many,
    raw_inputs,
    reader_options,
    tile_size,
)
from isplab.develop.torch_runners import ClassicRunner, TorchRunner
from isplab.errors import IsplabError
from isplab.models.weights import model_checkpoint, save_checkpoint
from isplab.raw.bayer import CFA
from isplab.raw.readers import read_raw


@pytest.fixture
def runner(smallnet):
    return TorchRunner(smallnet, "smallnet (test)")


def _expected(runner, path, **options):
    """Whole-frame output of ``runner`` on ``path``, quantised like an 8-bit PNG."""
    rgb = runner(read_raw(path, **options).packed()[None])[0]
    return (np.clip(rgb, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def test_png_mosaic(tmp_path, runner, mosaic, write_png16):
    src = write_png16(tmp_path / "shot.png", mosaic())
    out = develop_file(src, runner, tmp_path / "out", DevelopSettings(tile=40, overlap=16))
    assert out == tmp_path / "out" / "shot.png"
    with Image.open(out) as im:
        assert im.size == (80, 64)
        assert "smallnet (test)" in im.text["isplab.model"] and "tile=40 overlap=16" in im.text["isplab.settings"]
        assert np.abs(np.asarray(im).astype(int) - _expected(runner, src)).max() <= 1


def test_headerless_raw_with_geometry(tmp_path, runner, mosaic):
    src = tmp_path / "dump.raw"
    mosaic(64, 80, peak=4095).astype("<u2").tofile(src)
    settings = DevelopSettings(tile=40, overlap=16, read_options={"width": 80, "height": 64, "bit_depth": 12,
                                                                  "cfa": "GRBG"})
    out = develop_file(src, runner, tmp_path, settings)
    with Image.open(out) as im:
        assert im.size == (80, 64) and "cfa=GRBG black=0 white=4095" in im.text["isplab.settings"]
        expected = _expected(runner, src, width=80, height=64, bit_depth=12, cfa="GRBG")
        assert np.abs(np.asarray(im).astype(int) - expected).max() <= 1


def test_dng_through_rawpy_with_classic_metadata(tmp_path, write_dng, mosaic):
    src = write_dng(tmp_path / "phone.dng", mosaic(64, 80, peak=1000), CFA.BGGR, black=(16, 16, 16, 16), white=1000)
    out = develop_file(src, ClassicRunner(), tmp_path / "out", DevelopSettings(fmt="jpg", tile=40, overlap=16))
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (80, 64)
        assert b"classical ISP" in im.info["comment"] and b"cfa=BGGR black=16 white=1000" in im.info["comment"]


def test_real_headerless_frame(shared_file, tmp_path):
    src = shared_file("data", "real-raw", "fast-openisp-test-1920x1080-rggb-10bit.raw")
    settings = DevelopSettings(fmt="png16", read_options={"width": 1920, "height": 1080, "white": 1020})
    out = develop_file(src, ClassicRunner(), tmp_path, settings)
    with Image.open(out) as im:
        assert im.size == (1920, 1080)
        img = np.asarray(im.convert("RGB"), dtype=np.float32)
    assert 40 < img.mean() < 220 and img.std() > 30  # a picture with contrast, not a flat or black frame


def test_bad_file_is_skipped_and_the_rest_develop(tmp_path, runner, mosaic, write_png16):
    good = [write_png16(tmp_path / f"{i}.png", mosaic(seed=i)) for i in range(2)]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    logs = []
    summary = develop_many([good[0], bad, good[1]], runner, tmp_path / "out", DevelopSettings(tile=40, overlap=16),
                           progress=False, log=logs.append)
    assert [p.name for p in summary.developed] == ["0.png", "1.png"]
    assert [p for p, _ in summary.failed] == [bad] and not summary.ok
    assert "broken.png" in logs[0] and "cannot decode PNG" in logs[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png"]  # nothing half-written


def test_cli_develop_exit_status(tmp_path, smallnet, capsys, mosaic, write_png16):
    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, smallnet))
    good = write_png16(tmp_path / "good.png", mosaic())
    args = ["develop", str(good), "--weights", str(ckpt), "--out", str(tmp_path / "out"), "--quiet",
            "--tile", "40", "--overlap", "16", "--format", "jpg"]
    assert main(args) == 0
    assert (tmp_path / "out" / "good.jpg").is_file()
    assert main([*args[:2], str(tmp_path / "missing.dng"), *args[2:]]) == 1
    assert "1 failed" in capsys.readouterr().out
    assert main(["develop", str(good), "--weights", "classic", "--out", str(tmp_path / "c"), "--quiet"]) == 0


def test_same_stem_inputs_are_refused(tmp_path, runner, mosaic, write_png16):
    (tmp_path / "a").mkdir()
    srcs = [write_png16(tmp_path / "x.png", mosaic()), write_png16(tmp_path / "a" / "x.png", mosaic())]
    with pytest.raises(Exception, match="same file name"):
        develop_many(srcs, runner, tmp_path / "out", progress=False)


def test_reader_options_follow_the_input_kind(tmp_path):
    opts = {"width": 8, "height": 4, "cfa": "BGGR", "white": 1023, "bit_depth": None}
    assert reader_options(tmp_path / "a.raw", opts) == {"width": 8, "height": 4, "cfa": "BGGR", "white": 1023}
    assert reader_options(tmp_path / "a.png", opts) == {"cfa": "BGGR", "white": 1023}
    assert reader_options(tmp_path / "a.dng", opts) == {}


def test_folder_inputs_develop_every_raw_file_with_one_runner(tmp_path, runner, mosaic, write_png16):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3):
        write_png16(folder / f"{i}.png", mosaic(seed=i))
    (folder / "notes.txt").write_text("not a raw")
    assert [p.name for p in raw_inputs([folder])] == ["0.png", "1.png", "2.png"]
    summary = develop_many([folder], runner, tmp_path / "out", DevelopSettings(tile=40, overlap=16), progress=False)
    assert summary.ok and sorted(p.name for p in summary.developed) == ["0.png", "1.png", "2.png"]


# ---- options and output checked before any work ----------------------------------------------------


@pytest.mark.parametrize(("options", "expected"), [
    (["--cfa", "XYZW"], "--cfa XYZW: unknown Bayer phase. Use one of RGGB"),
    (["--black", "900", "--white", "100"], "--black 900 --white 100: the black level must be below"),
    (["--tile", "-4"], "--tile -4: must be >= 1"),
    (["--tile", "0"], "--tile 0: must be >= 1"),
    (["--tile", "40", "--overlap", "32"], "--tile 40: must be at least twice --overlap 32"),
    (["--overlap", "-1"], "--overlap -1: must be >= 0"),
    (["--quality", "500"], "--quality 500: must be from 1 to 100"),
    (["--bit-depth", "20"], "--bit-depth 20: must be from 1 to 16"),
    (["--width", "0"], "--width 0: must be >= 1"),
    (["--out", "{tmp}/afile"], "afile: is a file, not a folder"),
])
def test_bad_options_and_out_are_one_line_before_any_work(tmp_path, monkeypatch, capsys, raising, options,
                                                          expected):
    import isplab.develop.runners as runners

    monkeypatch.setattr(runners, "load_runner", raising(AssertionError("the model loaded before the checks")))
    (tmp_path / "afile").write_text("x")
    argv = ["develop", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--weights", "classic",
            "--out", str(tmp_path / "out"), *options]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and expected in err and not captured.out, err


def test_tile_0_is_never_the_default_tile(runner):
    with pytest.raises(IsplabError, match="--tile 0"):
        check_settings(DevelopSettings(tile=0))
    assert tile_size(runner, DevelopSettings(tile=None)) == 512


def test_skipped_files_go_to_stderr_and_stale_temps_are_removed(tmp_path, runner, capsys, stale_temp):
    out = tmp_path / "out"
    stale = stale_temp(out, "shot.png")  # left by an interrupted earlier run
    summary = develop_many([tmp_path / "missing.png"], runner, out, progress=False)
    assert not summary.ok and not stale.exists()
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "missing.png" in captured.err and not captured.out
