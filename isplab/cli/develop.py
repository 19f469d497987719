"""``isplab develop``: raw photos -> finished pictures at full resolution, tiled."""

from __future__ import annotations

import argparse
from pathlib import Path

from isplab.cli.args import finite_float
from isplab.errors import quote


def add_raw_options(p: argparse.ArgumentParser) -> None:
    """Reader options for mosaics (PNG) and headerless dumps (.raw/.bin); camera raws ignore them."""
    g = p.add_argument_group("mosaic / headerless raw geometry (ignored for camera raw files)")
    g.add_argument("--cfa", help="Bayer phase: RGGB, BGGR, GRBG or GBRG (default RGGB)")
    g.add_argument("--width", type=int, help="width of a headerless .raw in photosites")
    g.add_argument("--height", type=int, help="height of a headerless .raw in photosites")
    g.add_argument("--bit-depth", type=int, help="bits per sample of a headerless .raw (default 10)")
    g.add_argument("--endianness", choices=["little", "big"], help="byte order of a headerless .raw")
    g.add_argument("--black", type=finite_float, help="black level in sensor units")
    g.add_argument("--white", type=finite_float, help="white level in sensor units (default 2**bits - 1; PNG: 1020)")


def raw_options(args: argparse.Namespace) -> dict[str, object]:
    return {"cfa": args.cfa, "width": args.width, "height": args.height, "bit_depth": args.bit_depth,
            "endianness": args.endianness, "black": args.black, "white": args.white}


def add_tiling_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tile", type=int,
                   help="tile side in packed pixels (= half the output's); default 512 for PyTorch, 256 for "
                        "TFLite (its arena grows ~4 KB per packed pixel); a fixed-size .tflite uses its own")
    p.add_argument("--overlap", type=int, default=32,
                   help="overlap between tiles in packed pixels; tiled == whole-frame when the model's "
                        "receptive-field radius is <= overlap/4")
    p.add_argument("--no-resize", action="store_true",
                   help="run a .tflite at its own input size (tiles of exactly that size) instead of resizing; "
                        "files that cannot be resized (optimised exports, built for one size) do so anyway")
    p.add_argument("--threads", type=int, default=2, help="TFLite interpreter threads")


#: ``--neutral`` names (a literal copy of isplab.develop.pipeline.NEUTRALS: the parser imports no numpy).
NEUTRALS = ("as-shot", "grey-world", "grey-edge", "white-patch")


def _exposure(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return finite_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a finite number, got {quote(text)}") from None


def add_adapter_options(p: argparse.ArgumentParser) -> None:
    """The camera adapter (on by default for models that carry their raw domain: checkpoints and their exports)."""
    g = p.add_argument_group("camera adapter: map each frame into the model's raw domain (docs/camera.md)")
    g.add_argument("--no-adapt", action="store_true", help="feed the frame as read (its own levels only)")
    g.add_argument("--neutral", default="as-shot", type=neutral_option, metavar="NAME|B,G,R,G",
                   help="the frame's white: as-shot (the file's; grey-edge when it has none), an estimator "
                        "(grey-world, grey-edge, white-patch), or 4 values: the frame's grey in canonical channels "
                        "B,Gr,R,Gb (e.g. 0.5,1,0.6,1)")
    g.add_argument("--exposure", type=_exposure, default="auto",
                   help="auto (default: the frame's bright end to the level the model was trained at, like "
                        "LibRaw's auto-brightness) or a factor after white balance (times 2**BaselineExposure of "
                        "a DNG)")
    g.add_argument("--colour-method", default="mixed", choices=["mixed", "dng", "camera"],
                   help="camera -> XYZ for files without a ForwardMatrix: the DNG specification's (XYZ + Bradford "
                        "from the light's white), white balance in camera space (as LibRaw), or their mean "
                        "(default; docs/camera.md)")
    g.add_argument("--camera", metavar="PROFILE",
                   help="camera profile (YAML from `isplab profile`) for files without colour metadata (PNG "
                        "mosaics, .raw): their colour space and levels")


def neutral_option(text: str) -> str | tuple[float, ...]:
    """``--neutral``: an estimator name (:data:`NEUTRALS`) or 4 positive numbers ``B,G,R,G``."""
    if text in NEUTRALS:
        return text
    parts = text.split(",")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(NEUTRALS)} or 4 values B,G,R,G "
                                         f"(e.g. 0.5,1,0.6,1), got {quote(text)}")
    values = tuple(finite_float(v) for v in parts)
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"neutral values must be > 0, got {quote(text)}")
    return values


def adapter_settings(args: argparse.Namespace) -> dict[str, object]:
    """The adapter's settings (the profile read here, so a bad one fails before any model loads)."""
    camera = None
    if args.camera:
        from isplab.camera.profile import load_profile

        camera = load_profile(args.camera)
    return {"adapt": not args.no_adapt, "neutral": args.neutral, "exposure": args.exposure,
            "colour_method": args.colour_method, "camera": camera}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("develop", help="develop raw photos (DNG, 16-bit PNG mosaics, .raw) with a model",
                       description="Develop raw files at full resolution with a learned ISP (PyTorch checkpoint "
                                   "or .tflite) or the classical ISP, tile by tile with seam-free blending. "
                                   "A file that fails is reported and skipped; the exit status is 1 if any did.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="raw files (DNG/NEF/CR2/..., .png mosaics, .raw) or folders of them (developed with one "
                        "interpreter: start-up is paid once)")
    p.add_argument("--weights", help="checkpoint .pt, pretrained:NAME, model .tflite, or 'classic' (default: the "
                                     "shipped pretrained model with the best test PSNR)")
    p.add_argument("--out", required=True, help="output folder (files are named after the inputs)")
    p.add_argument("--format", dest="fmt", choices=["png", "png16", "jpg"], default="png", help="output format")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    p.add_argument("--no-orientation", action="store_true", help="do not copy the source's EXIF orientation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_tiling_options(p)
    add_adapter_options(p)
    add_raw_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.atomic import check_folder
    from isplab.develop.pipeline import DevelopSettings, check_settings, develop_many, output_path, raw_inputs
    from isplab.develop.runners import load_runner
    from isplab.paths import check_apart

    files = raw_inputs(args.inputs)
    check_apart({"INPUT": files, "--weights": args.weights, "--camera": args.camera},
                {"--out": [output_path(p, Path(args.out), args.fmt) for p in files]})
    settings = check_settings(DevelopSettings(fmt=args.fmt, tile=args.tile, overlap=args.overlap,
                                              quality=args.quality, read_options=raw_options(args),
                                              copy_orientation=not args.no_orientation,
                                              **adapter_settings(args)))
    check_folder(args.out, "developed files (--out)")
    weights = args.weights
    if weights is None:
        from isplab.models.weights import best_pretrained

        weights = f"pretrained:{best_pretrained()}"
        print(f"no --weights: developing with {weights} (the shipped model with the best test PSNR)")
    runner = load_runner(weights, resize=not args.no_resize, num_threads=args.threads, tile=args.tile)
    summary = develop_many(args.inputs, runner, args.out, settings, progress=not args.quiet)
    total = len(summary.developed) + len(summary.failed)
    print(f"developed {len(summary.developed)} of {total} file(s) with {runner.name} -> {args.out}")
    if summary.failed:
        print(f"{len(summary.failed)} failed: {', '.join(str(p) for p, _ in summary.failed)}")
    return 0 if summary.ok else 1
