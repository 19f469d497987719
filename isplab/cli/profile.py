"""``isplab profile``: a camera profile (colour matrix, neutral, levels) from a ColorChecker 24 capture."""

from __future__ import annotations

import argparse

from isplab.cli.args import finite_float
from isplab.cli.develop import add_raw_options, raw_options
from isplab.errors import quote


def _corners(text: str) -> tuple[tuple[float, float], ...]:
    try:
        values = [finite_float(v) for v in text.split(",")]
    except argparse.ArgumentTypeError:
        values = []
    if len(values) != 8:
        raise argparse.ArgumentTypeError(f"expected 8 comma-separated finite numbers x1,y1,...,x4,y4, "
                                         f"got {quote(text)}")
    return tuple((values[i], values[i + 1]) for i in range(0, 8, 2))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="fit a camera profile (colour matrix, neutral, levels) to a ColorChecker shot",
                       description="Fit the XYZ -> camera matrix and neutral of a camera from a raw capture of an "
                                   "X-Rite ColorChecker 24 (any raw isplab reads) and write them with the frame's "
                                   "black and white levels as a camera profile (YAML). `isplab develop/eval/train "
                                   "--camera PROFILE` then uses it for files without colour metadata.")
    p.add_argument("input", metavar="CHART_RAW", help="raw capture of the chart (DNG/NEF/..., .png mosaic, .raw)")
    p.add_argument("--corners", type=_corners, required=True,
                   help="centres of patches 1 (dark skin), 6 (bluish green), 24 (black) and 19 (white) in "
                        "full-resolution pixels: x1,y1,x6,y6,x24,y24,x19,y19")
    p.add_argument("--illuminant", default="D65", choices=["D65", "D50", "A"],
                   help="the light the chart was shot under (the profile is calibrated for it)")
    p.add_argument("--out", required=True, help="profile YAML to write")
    add_raw_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from isplab.atomic import check_writable
    from isplab.camera.colorchecker import profile_capture, write_profile
    from isplab.develop.pipeline import reader_options
    from isplab.paths import check_apart
    from isplab.raw.readers import read_raw

    path = Path(args.input)
    check_apart({"CHART_RAW": path}, {"--out": args.out})
    check_writable(args.out, "camera profile (--out)")
    profile, fit = profile_capture(read_raw(path, **reader_options(path, raw_options(args))), args.corners,
                                   args.illuminant)
    out = write_profile(profile, fit, args.out)
    print(f"profile of {path.name} under {args.illuminant} -> {out}: neutral (R, G, B) "
          f"{tuple(round(float(v), 4) for v in fit.neutral)}; the 24 patches through it: mean CIEDE2000 "
          f"{fit.mean_error:.2f}, max {fit.max_error:.2f}")
    return 0
