"""``isplab data``: synthesise the default paired data, check a dataset folder, or pack one into a store."""

from __future__ import annotations

import argparse
import sys
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="synthesise, check or pack paired raw/RGB data")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    synth = actions.add_parser("synth", help="write raw/RGB pairs unprocessed from bundled photos")
    synth.add_argument("--out", required=True, help="new or empty folder to create")
    synth.add_argument("--n", type=int, default=64, help="number of training pairs (default 64)")
    synth.add_argument("--val", type=int, default=16,
                       help="pairs of the validation photos in val/ (default 16; 0 with --test 0: a flat folder)")
    synth.add_argument("--test", type=int, default=16, help="pairs of the test photos in test/ (default 16)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=int, default=256, help="target / mosaic side in pixels (default 256)")
    synth.add_argument("--camera", help="YAML/JSON camera family (see isplab.data.CameraFamily)")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing synthetic dataset")
    synth.set_defaults(func=run_synth)

    check = actions.add_parser("check", help="validate a dataset folder or packed store; print its layout and size")
    check.add_argument("dir", help="dataset folder (a layout folder or a parent with split folders) or packed store")
    check.add_argument("--split", help="check only this split folder")
    check.add_argument("--size", type=int, help="expected mosaic side if not the layout's default")
    check.add_argument("--deep", action="store_true",
                       help="also decode every file (finds truncated files); a store: verify every shard's checksum")
    check.set_defaults(func=run_check)

    pack = actions.add_parser(
        "pack", help="decode a dataset folder once into a memory-mapped store that trains without decoding",
        description="Decode every pair of DIR (all its split folders) into .npy shards + index.json at --out. "
                    "Train or evaluate with --data STORE: same pairs, splits and batches as the folder. "
                    "Interrupted? Run the same command again: it resumes. See docs/training.md.")
    pack.add_argument("dir", help="dataset folder (a layout folder or a parent with train/ val/ test/ folders)")
    pack.add_argument("--out", required=True, help="store folder to create (new or empty)")
    pack.add_argument("--overwrite", action="store_true",
                      help="replace an existing store (swapped in only once the new one is complete)")
    pack.add_argument("--shard-pairs", type=int, help="pairs per shard file (default: ~1 GB shards)")
    pack.add_argument("--workers", type=int, help="decoding threads (default: up to 4)")
    pack.set_defaults(func=run_pack)


def run_synth(args: argparse.Namespace) -> int:
    from isplab.data import CameraFamily, synthesize_dataset
    from isplab.paths import check_apart

    check_apart({"--camera": args.camera}, {}, {"--out": args.out})
    camera = CameraFamily.load(args.camera) if args.camera else None
    start = time.perf_counter()
    out = synthesize_dataset(args.out, n=args.n, seed=args.seed, camera=camera, size=args.size, val=args.val,
                             test=args.test, overwrite=args.overwrite)
    print(f"wrote {args.n} training + {args.val} val + {args.test} test pairs (disjoint photos) to {out} in "
          f"{time.perf_counter() - start:.1f}s (camera family, photo split and every pair in {out / 'camera.json'})")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from isplab.data.datasets import check_dataset
    from isplab.data.store import check_store, is_store

    check = check_store if is_store(args.dir) else check_dataset
    summaries = check(args.dir, split=args.split, deep=args.deep, size=args.size)
    packed = "packed store of the " if check is check_store else ""
    print(f"{summaries[0].root}: {packed}{summaries[0].layout.describe()} - {summaries[0].layout.description}")
    for summary in summaries:
        print(f"  {summary}")
        if summary.warning:
            print(f"warning: {summary.warning}", file=sys.stderr)
    return 0


def run_pack(args: argparse.Namespace) -> int:
    from isplab.data.pack import already_packed, pack_dataset
    from isplab.data.store import check_store
    from isplab.paths import check_apart

    check_apart({"DIR": args.dir}, {}, {"--out": args.out})
    if not args.overwrite and already_packed(args.dir, args.out, args.shard_pairs):
        print(f"{args.out}: already packed from {args.dir} and no source file changed since; nothing to do")
        return 0
    start = time.perf_counter()
    out = pack_dataset(args.dir, args.out, overwrite=args.overwrite, shard_pairs=args.shard_pairs,
                       workers=args.workers)
    summaries = check_store(out)
    print(f"packed {sum(s.count for s in summaries)} pairs of {args.dir} into {out} in "
          f"{time.perf_counter() - start:.1f}s; train with --data {out}")
    for summary in summaries:
        print(f"  {summary}")
    return 0
