"""Mutation testing of isplab with mutmut: do the tests fail when the code is wrong? (docs/testing.md)

    python tools/mutation.py run metrics classic     # full runs of these targets, one after the other
    python tools/mutation.py run --all               # every target (hours on 2 cores)
    python tools/mutation.py survivors metrics       # the surviving mutants of a finished run, with diffs
    python tools/mutation.py sample --n 16 --seed 0  # the seeded sample CI runs (tests/test_mutation.py)

Each target (:data:`TARGETS`: the modules it mutates, the tests that guard them) runs in its own copy of
the repository under ``--work`` (default ``/tmp/isplab-mutation/<target>``), so the checkout is never
touched; re-running resumes there (mutmut keeps its results in ``mutants/``, and redoes a function whose
code changed). mutmut 3 mutates inside functions and methods only (not module-level constants, and not
functions with decorators other than ``staticmethod``/``classmethod``), and runs for each mutant only the
tests that call the mutated function. Torch runs single-threaded in the forked workers
(``OMP_NUM_THREADS=1``): mutmut's timeout is a CPU-time limit, and a thread pool inherited across fork can
stall.

Score = (killed + timed out) / mutants checked; a surviving mutant that cannot be killed (an equivalent
mutant) is listed with its reason in ``docs/mutation-survivors.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURVIVORS = ROOT / "docs" / "mutation-survivors.md"

#: target -> (modules to mutate, the tests that guard them).
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "classic": (["isplab/classic/*"], ["tests/classic"]),
    "stream": (["isplab/data/stream.py"], ["tests/data/test_stream.py"]),
    "store": (["isplab/data/store.py"], ["tests/data/test_store.py"]),
    "optimize": (["isplab/export/optimize/*"], ["tests/export/optimize"]),
    "parity": (["isplab/export/parity.py"], ["tests/export/test_parity.py"]),
    "metrics": (["isplab/metrics.py"], ["tests/test_metrics.py"]),
    "adapt": (["isplab/train/adapt.py"], ["tests/train/test_few_shot_adapt.py"]),
    "sweep": (["isplab/sweep.py"], ["tests/test_sweep.py"]),
    "executors": (["isplab/executors.py"], ["tests/test_executors.py"]),
}
#: The targets the CI sample draws from: their tests take seconds.
SAMPLE_TARGETS = ("classic", "metrics", "stream")
#: Not run yet (their colour code is being rewritten): raw/, camera/, data/camera.py.
PENDING = ("isplab/raw/*", "isplab/camera/*", "isplab/data/camera.py")

KILLED = {1, 3}  # pytest: tests failed / internal error
TIMEOUT = {-24, 24, 152, 255, 36}  # mutmut's CPU-time limit (SIGXCPU)


def prepare(work: Path, mutate: list[str], tests: list[str]) -> Path:
    """A copy of the repository's tracked files in ``work`` (kept if it exists) configured for mutmut."""
    if not (work / "pyproject.toml").is_file():
        work.mkdir(parents=True, exist_ok=True)
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
        files = [f for f in listed.stdout.split("\0") if f] if listed.returncode == 0 else None
        if not files:  # not a git checkout: the parts the tests need
            files = [str(p.relative_to(ROOT)) for d in ("isplab", "tests", "configs") for p in (ROOT / d).rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts] + ["pyproject.toml", "README.md"]
        for name in files:
            if (ROOT / name).is_file():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, work / name)
        shared = ROOT.parent / "shared"  # tests/conftest.py finds it beside the checkout's copy in mutants/
        if shared.is_dir() and not (work / "shared").exists():
            (work / "shared").symlink_to(shared)
    config = ("\n[tool.mutmut]\n" + 'source_paths = ["isplab"]\n' + f"only_mutate = {json.dumps(mutate)}\n"
              + f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
              + 'also_copy = ["configs", "README.md", "docs", "benchmarks", "tools"]\n')
    text = (ROOT / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(text + config)
    return work


def mutmut(work: Path, *args: str, budget: float | None = None) -> int:
    """``mutmut ARGS`` in ``work``; stopped (as by Ctrl-C: it keeps what it checked) after ``budget`` seconds
    or when this process is terminated."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": ""}
    proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=work, env=env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        return -1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def results(work: Path) -> dict[str, int | None]:
    """``{mutant name: exit code}`` (None: not run yet) of every mutant generated in ``work``."""
    codes: dict[str, int | None] = {}
    for meta in sorted((work / "mutants").rglob("*.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def generate(work: Path) -> list[str]:
    """Generate the mutants of ``work`` without running anything; their names."""
    code = ("from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths\n"
            "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(2)")
    subprocess.run([sys.executable, "-c", code], cwd=work, check=True, capture_output=True)
    return sorted(results(work))


def listed_survivors() -> set[str]:
    """Mutant names documented in docs/mutation-survivors.md (every backticked ``...__mutmut_N``)."""
    if not SURVIVORS.is_file():
        return set()
    return set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", SURVIVORS.read_text()))


def score(codes: dict[str, int | None]) -> dict[str, int | float]:
    checked = {k: v for k, v in codes.items() if v is not None}
    killed = sum(v in KILLED for v in checked.values())
    timeout = sum(v in TIMEOUT for v in checked.values())
    survived = [k for k, v in checked.items() if v == 0]
    untested = sum(v in (5, 33) for v in checked.values())
    total = len(checked)
    return {"mutants": total, "killed": killed, "timeout": timeout, "survived": len(survived),
            "no_tests": untested, "other": total - killed - timeout - len(survived) - untested,
            "score": round((killed + timeout) / total, 3) if total else 0.0}


def cmd_run(args: argparse.Namespace) -> int:
    """Exit status 3 when ``--budget`` ran out before every mutant was checked (run it again to go on)."""
    table, unfinished = {}, False
    for target in (TARGETS if args.all else args.targets):
        work = prepare(args.work / target, *TARGETS[target])
        mutmut(work, "run", "--max-children", str(args.children), budget=args.budget)
        codes = results(work)
        unfinished |= not codes or None in codes.values()
        table[target] = score(codes)
        print(f"{target}: {table[target]}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1) + "\n")
    return 3 if unfinished else 0


def cmd_survivors(args: argparse.Namespace) -> int:
    known = listed_survivors()
    for target in args.targets:
        work = args.work / target
        for name, code in results(work).items():
            if code in (0, 5, 33) and (args.all or name not in known):
                print(f"# {name}{'' if code == 0 else ' (no test calls it)'}", flush=True)
                mutmut(work, "show", name)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Run a seeded sample of ``--n`` mutants of :data:`SAMPLE_TARGETS`, leaving out the documented
    survivors; exit 1 if any of them survives."""
    mutate = [m for t in SAMPLE_TARGETS for m in TARGETS[t][0]]
    tests = [t for target in SAMPLE_TARGETS for t in TARGETS[target][1]]
    work = prepare(args.work / "sample", mutate, tests)
    names = [n for n in generate(work) if n not in listed_survivors()]
    chosen = sorted(random.Random(args.seed).sample(names, min(args.n, len(names))))
    mutmut(work, "run", "--max-children", str(args.children), *chosen)
    codes = results(work)
    bad = [n for n in chosen if codes.get(n) not in KILLED | TIMEOUT]
    print(f"sample of {len(chosen)} of {len(names)} mutants (seed {args.seed}): "
          f"{len(chosen) - len(bad)} killed" + (f"; NOT killed: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/isplab-mutation"), help="scratch folder (copies)")
    p.add_argument("--children", type=int, default=2, help="mutants tested in parallel (default 2)")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="full mutation runs")
    run.add_argument("targets", nargs="*", choices=[[], *TARGETS], metavar="TARGET")
    run.add_argument("--all", action="store_true")
    run.add_argument("--json", help="write the score table here")
    run.add_argument("--budget", type=float, help="stop after this many seconds (exit 3; re-run to resume)")
    run.set_defaults(func=cmd_run)
    surv = sub.add_parser("survivors", help="show surviving mutants not yet documented")
    surv.add_argument("targets", nargs="+", choices=list(TARGETS), metavar="TARGET")
    surv.add_argument("--all", action="store_true", help="also the documented ones")
    surv.set_defaults(func=cmd_survivors)
    sample = sub.add_parser("sample", help="the seeded sample CI runs")
    sample.add_argument("--n", type=int, default=16)
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(func=cmd_sample)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
