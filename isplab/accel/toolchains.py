"""The accelerator toolchains: where they live, how one command sets them up, what is missing.

Two toolchains, each set up into the cache folder (``~/.cache/isplab/accel``, or ``$ISPLAB_ACCEL_CACHE``)
by :func:`setup_toolchains` (``isplab accel setup``) and described there by ``manifest.json``:

* **htp** -- Qualcomm's QNN 2.51 host libraries for x86-64 (``libQnnHtp.so``, ``libHtpPrepare.so`` with
  the HTP simulator, ``libQnnSystem.so``) as the PyPI wheel ``onnxruntime-qnn`` ships them (the ``accel``
  extra pins it), used from the installed package. LiteRT's Qualcomm compiler plugin also opens a
  ``libQnnLpai.so`` it never calls: setup builds an empty one with the system C compiler.
* **gpu** -- a Vulkan driver that runs on the CPU, for LiteRT's WebGPU runtime: Mesa's lavapipe >= 25
  (Debian 12's 22.3 lacks a feature Dawn needs), from bookworm-backports, with the Vulkan loader.
  ``apt-get download`` with a private apt state (the system's configured Debian mirror, its keyring) and
  ``dpkg -x`` into the cache: nothing is installed on the system. An ICD file points the loader at the
  unpacked ``libvulkan_lvp.so``.

Vendor libraries only ever load in a worker subprocess (:mod:`isplab.accel.worker`) whose environment
:meth:`Toolchains.env` gives (``LD_LIBRARY_PATH``, ``VK_ICD_FILENAMES``): the calling process is unaffected.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from isplab.atomic import write_text_atomic
from isplab.errors import IsplabError

CACHE_ENV = "ISPLAB_ACCEL_CACHE"
ACCEL_EXTRA = "pip install 'isplab[accel]'"

#: Pinned versions and their licences (the manifest records them).
QNN_WHEEL = ("onnxruntime-qnn", "2.7.0")
QNN_LICENCE = ("Qualcomm's QNN SDK licence (the wheel's onnxruntime_qnn/Qualcomm_LICENSE.pdf) for the QNN "
               "libraries; MIT for onnxruntime-qnn itself")
DEBIAN_SUITE = "bookworm"
#: Debian package -> (version, licence); versions from bookworm-backports / bookworm.
MESA_PACKAGES = {
    "mesa-vulkan-drivers": ("25.0.7-2~bpo12+1", "MIT (Mesa)"),
    "libdrm2": ("2.4.123-1~bpo12+1", "MIT"),
    "libdrm-amdgpu1": ("2.4.123-1~bpo12+1", "MIT"),
    "libvulkan1": ("1.3.239.0-1", "Apache-2.0 (Khronos Vulkan loader)"),
}
TARGETS = ("htp", "gpu")


class ToolchainError(IsplabError):
    """A toolchain could not be set up or is not set up."""


def cache_dir(cache: str | Path | None = None) -> Path:
    """The toolchain cache: ``cache``, else ``$ISPLAB_ACCEL_CACHE``, else ``~/.cache/isplab/accel``."""
    if cache is not None:
        return Path(cache).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "isplab" / "accel"


@dataclass
class Toolchains:
    """What :func:`setup_toolchains` recorded in a cache; a target is ready when its entry exists and its
    files are still there (``missing`` says why not, one line per target)."""

    root: Path
    htp: dict = field(default_factory=dict)
    gpu: dict = field(default_factory=dict)

    @classmethod
    def load(cls, cache: str | Path | None = None) -> Toolchains:
        root = cache_dir(cache)
        try:
            data = json.loads((root / "manifest.json").read_text())
        except (OSError, ValueError):
            data = {}
        return cls(root, data.get("htp") or {}, data.get("gpu") or {})

    def missing(self, target: str) -> str | None:
        """Why ``target`` (``htp`` or ``gpu``) cannot run, or None when it can."""
        entry = getattr(self, target)
        if not entry:
            return f"the {target} toolchain is not set up in {self.root}: run `isplab accel setup`"
        gone = [p for p in entry["library_path"] if not Path(p).is_dir()]
        if gone:
            return f"the {target} toolchain in {self.root} lost {gone[0]}: run `isplab accel setup` again"
        return None

    def env(self, target: str) -> dict[str, str]:
        """The worker environment for ``target``: this process's plus the toolchain's library path."""
        entry = getattr(self, target)
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*entry["library_path"], env.get("LD_LIBRARY_PATH", "")]).rstrip(
            os.pathsep)
        if target == "gpu":
            env["VK_ICD_FILENAMES"] = entry["icd"]
        return env

    def describe(self) -> str:
        lines = [f"accelerator toolchains in {self.root}:"]
        for target in TARGETS:
            why = self.missing(target)
            entry = getattr(self, target)
            lines.append(f"  {target}: " + (why or f"ready ({entry['versions']}; licence: {entry['licence']})"))
        return "\n".join(lines)


def _run(cmd: list[str], what: str, **kwargs) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    except FileNotFoundError:
        raise ToolchainError(f"{what}: `{cmd[0]}` not found. Install it (apt-get install {cmd[0]})") from None
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ToolchainError(f"{what}: `{' '.join(cmd[:3])} ...` failed ({tail[0][:200]})")
    return done.stdout


def _qnn_package() -> Path:
    name, version = QNN_WHEEL
    spec = importlib.util.find_spec("onnxruntime_qnn")
    if spec is None or spec.origin is None:
        raise ToolchainError(f"the htp toolchain needs the {name} wheel, not installed: {ACCEL_EXTRA}")
    found = importlib.metadata.version(name)
    if found != version:
        raise ToolchainError(f"{name} {found} is installed, the htp toolchain is pinned to {version}: "
                             f"{ACCEL_EXTRA}")
    return Path(spec.origin).parent


def setup_htp(root: Path) -> dict:
    """Record the QNN libraries of the installed ``onnxruntime-qnn`` and build the empty ``libQnnLpai.so``."""
    qnn = _qnn_package()
    for lib in ("libQnnHtp.so", "libHtpPrepare.so", "libQnnSystem.so", "libonnxruntime_providers_qnn.so"):
        if not (qnn / lib).is_file():
            raise ToolchainError(f"{qnn}: {lib} missing from the onnxruntime-qnn wheel. Reinstall it: {ACCEL_EXTRA}")
    stub_dir = root / "qnn-stub"
    stub_dir.mkdir(parents=True, exist_ok=True)
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise ToolchainError("building the empty libQnnLpai.so needs a C compiler: apt-get install gcc")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "empty.c"
        source.write_text("/* LiteRT's Qualcomm plugin opens libQnnLpai.so but never calls it. */\n")
        _run([compiler, "-shared", "-fPIC", "-o", str(stub_dir / "libQnnLpai.so"), str(source)],
             "building libQnnLpai.so")
    return {"library_path": [str(qnn), str(stub_dir)], "versions": f"{QNN_WHEEL[0]} {QNN_WHEEL[1]} (QNN 2.51)",
            "licence": QNN_LICENCE}


def _debian_mirror() -> tuple[str, str]:
    """The system's configured Debian mirror for :data:`DEBIAN_SUITE` and its keyring."""
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    for path in [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]:
        text = path.read_text() if path.is_file() else ""
        for stanza in text.split("\n\n"):  # deb822
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.M))
            if DEBIAN_SUITE in fields.get("Suites", "").split() and "security" not in fields.get("URIs", ""):
                return fields["URIs"].split()[0], fields.get("Signed-By", keyring)
        for uri in re.findall(rf"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{DEBIAN_SUITE}\s", text, re.M):
            return uri, keyring
    raise ToolchainError(f"no Debian {DEBIAN_SUITE} source in /etc/apt: the gpu toolchain unpacks Mesa from "
                         f"{DEBIAN_SUITE}-backports and needs a Debian {DEBIAN_SUITE} machine")


def setup_gpu(root: Path) -> dict:
    """Download the pinned Mesa/Vulkan packages with a private apt state and unpack them into ``root/mesa``."""
    uri, keyring = _debian_mirror()
    apt = root / "apt"
    for sub in ("lists/partial", "archives/partial"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    sources = apt / "sources.list"
    sources.write_text("".join(f"deb [signed-by={keyring}] {uri} {suite} main\n"
                               for suite in (DEBIAN_SUITE, f"{DEBIAN_SUITE}-backports")))
    (apt / "status").touch()
    opts = [f"-oDir::Etc::SourceList={sources}", "-oDir::Etc::SourceParts=/nonexistent",
            f"-oDir::State={apt}", f"-oDir::State::Lists={apt / 'lists'}", f"-oDir::State::status={apt / 'status'}",
            f"-oDir::Cache={apt}", f"-oDir::Cache::Archives={apt / 'archives'}", "-oDebug::NoLocking=1",
            "-oAPT::Sandbox::User=root"]
    _run(["apt-get", *opts, "update"], "apt-get update (private state)")
    debs = apt / "debs"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir()
    _run(["apt-get", *opts, "download", *[f"{p}={v}" for p, (v, _) in MESA_PACKAGES.items()]],
         "apt-get download (Mesa lavapipe)", cwd=debs)
    mesa = root / "mesa"
    shutil.rmtree(mesa, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg", "-x", str(deb), str(mesa)], f"unpacking {deb.name}")
    shutil.rmtree(debs)
    lib = mesa / "usr" / "lib" / "x86_64-linux-gnu"
    lvp = lib / "libvulkan_lvp.so"
    if not lvp.is_file():
        raise ToolchainError(f"{lvp}: not in the unpacked Mesa packages. Re-run `isplab accel setup`")
    missing = [line.split()[0] for line in _run(["ldd", str(lvp)], "checking lavapipe's libraries",
                                                env={**os.environ, "LD_LIBRARY_PATH": str(lib)}).splitlines()
               if "not found" in line]
    if missing:
        raise ToolchainError(f"lavapipe needs {', '.join(missing)}, not on this system: install the Debian "
                             "packages that provide them (apt-get install ...)")
    icd = root / "lvp_icd.json"
    write_text_atomic(icd, json.dumps({"file_format_version": "1.0.1",
                                       "ICD": {"library_path": str(lvp), "api_version": "1.4.305"}}) + "\n")
    return {"library_path": [str(lib)], "icd": str(icd),
            "versions": ", ".join(f"{p} {v}" for p, (v, _) in MESA_PACKAGES.items()),
            "licence": "; ".join(f"{p}: {lic}" for p, (_, lic) in MESA_PACKAGES.items())}


SETUPS = {"htp": setup_htp, "gpu": setup_gpu}


def setup_toolchains(targets: tuple[str, ...] = TARGETS, cache: str | Path | None = None) -> Toolchains:
    """Set up ``targets`` in the cache (idempotent: a ready target is kept) and return the result.

    Raises:
        ToolchainError: a target could not be set up (the message says what to install).
    """
    unknown = sorted(set(targets) - set(SETUPS))
    if unknown:
        raise ToolchainError(f"unknown toolchain {unknown[0]!r}; choose from {', '.join(TARGETS)}")
    chains = Toolchains.load(cache)
    chains.root.mkdir(parents=True, exist_ok=True)
    for target in targets:
        if chains.missing(target) is None:
            continue
        setattr(chains, target, SETUPS[target](chains.root))
        write_text_atomic(chains.root / "manifest.json",
                          json.dumps({"htp": chains.htp, "gpu": chains.gpu}, indent=1) + "\n")
    return chains
