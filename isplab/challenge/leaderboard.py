"""Leaderboard of isplab models in the style of the MAI 2022 report's Table 1, as markdown and HTML.

Input is one :class:`ModelResult` per model, usually a JSON file written by ``isplab challenge``
(schema below). The page shows our results, then the report's Table 1 for reference. Our runtimes are
CPU (LiteRT XNNPACK) milliseconds, the report's Snapdragon 8 Gen 1 GPU milliseconds, so the two tables'
absolute Final Scores are not comparable; the *relative* scores are (each row against a reference model
measured in the same setting: ours against ``--reference``, the report's against its MicroISP 1.0 row).

Result JSON (``ModelResult.to_dict``), one object per file::

    {"schema": "isplab.model_result/1",      # required marker: folders are scanned for it
     "model": "microisp",                     # required, unique within a leaderboard
     "framework": "PyTorch -> LiteRT",
     "size_mb": 0.152,                        # .tflite file size, 1e6 bytes
     "psnr": 23.87, "ssim": 0.853,            # dB / [0, 1] on the evaluation set
     "delta_e": 4.1,                          # mean CIEDE2000 colour error (lower is better)
     "cpu_runtime_ms": 380.0,                 # median, LiteRT XNNPACK (isplab bench)
     "final_score": null,                     # computed from psnr + cpu_runtime_ms when null
     "relative_score": null,                  # filled in by the leaderboard
     "gpu_audit": "pass",                     # verdict of the GPU-delegate op audit, free text
     "crops": ["crops/microisp_0.png"],       # images; relative paths are from the JSON's folder
     "tflite": "microisp.tflite", "input_size": [544, 960], "threads": 2,
     "notes": null, "extra": {}}              # unknown keys are kept in "extra"
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

from isplab.atomic import write_text_atomic
from isplab.challenge.score import C, final_score, relative_scores
from isplab.challenge.table1 import CAPTION, COLUMNS, TABLE1, ReportRow, find_row
from isplab.errors import IsplabError

SCHEMA = "isplab.model_result/1"
DEFAULT_REFERENCE = "microisp"
#: Name of the classical reference ISP's row.
CLASSIC_ROW = "classic_isp"
#: A learned model must beat the classical row by this much to serve as the relative-score reference.
REFERENCE_MARGIN_DB = 3.0
#: Column headers of our table: Table 1's, with CPU runtime, the colour error and the columns isplab adds.
OUR_COLUMNS = ("Model", "Framework", "Model Size, MB", "PSNR ↑", "SSIM ↑", "ΔE2000 ↓", "vs classical, dB",
               "CPU Runtime, ms ↓", "Final Score", "Relative Score", "GPU audit")
#: Extra column: the test split's PSNR / SSIM when the leaderboard scores the validation split.
TEST_COLUMN = "Test PSNR / SSIM"
#: Extra columns when results carry accelerator verdicts (``extra["accel"]``, :meth:`AccelReport.cells`).
ACCEL_COLUMNS = {"HTP compiled": "HTP SM8450 compiled", "HTP parity": "HTP parity",
                 "GPU": "GPU runtime", "GPU parity": "GPU parity"}
_NUMBERS = ("size_mb", "psnr", "ssim", "delta_e", "cpu_runtime_ms", "final_score", "relative_score")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".gif": "image/gif"}
_DASH = "—"


@dataclass
class ModelResult:
    """One model's challenge result (see the module docstring for the JSON form)."""

    model: str
    framework: str = "PyTorch -> LiteRT"
    size_mb: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    delta_e: float | None = None
    cpu_runtime_ms: float | None = None
    final_score: float | None = None
    relative_score: float | None = None
    gpu_audit: str | None = None
    crops: list[str] = field(default_factory=list)
    tflite: str | None = None
    input_size: list[int] | None = None
    threads: int | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> ModelResult:
        """Validate and build; unknown keys go to ``extra``. ``source`` names the file in errors and
        anchors relative ``crops`` paths."""
        where = f"{source}: " if source is not None else ""
        if not isinstance(data, dict):
            raise IsplabError(f"{where}a model result must be a JSON object, got {type(data).__name__}")
        if data.get("schema", SCHEMA) != SCHEMA:
            raise IsplabError(f"{where}schema {data.get('schema')!r} is not {SCHEMA!r}; rewrite it with "
                              "`isplab challenge`")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = dict(kwargs.pop("extra", None) or {})
        extra.update({k: v for k, v in data.items() if k not in known and k != "schema"})
        if not isinstance(kwargs.get("model"), str) or not kwargs["model"]:
            raise IsplabError(f"{where}missing \"model\" (the model's name, a non-empty string)")
        for key in _NUMBERS:
            value = kwargs.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value)):
                raise IsplabError(f"{where}\"{key}\" must be a finite number or null, got {value!r}")
        crops = kwargs.get("crops") or []
        if not isinstance(crops, list) or not all(isinstance(c, str) for c in crops):
            raise IsplabError(f"{where}\"crops\" must be a list of image paths")
        if source is not None:
            base = Path(source).parent
            crops = [c if Path(c).is_absolute() else str(base / c) for c in crops]
        kwargs["crops"] = crops
        return cls(**kwargs, extra=extra)

    def to_json(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> ModelResult:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IsplabError(f"{path}: no such result file. Pass JSON files written by `isplab challenge` "
                              "or folders holding them") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IsplabError(f"{path}: not a readable JSON result ({exc.__class__.__name__}: {exc}). "
                              "Re-run `isplab challenge` to rewrite it") from None
        return cls.from_dict(data, source=path)


def load_results(paths: list[str | Path]) -> list[ModelResult]:
    """Read result JSON files; folders contribute their ``*.json`` files that carry the schema marker
    (other JSON there, e.g. benchmark output, is skipped). Raises on unreadable files and duplicates."""
    results: list[tuple[Path, ModelResult]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.glob("*.json")):
                try:
                    data = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                    continue
                if isinstance(data, dict) and data.get("schema") == SCHEMA:
                    results.append((f, ModelResult.from_dict(data, source=f)))
        else:
            results.append((p, ModelResult.from_json(p)))
    if not results:
        raise IsplabError(f"no model results in {', '.join(map(str, paths))}: expected JSON files with "
                          f"\"schema\": \"{SCHEMA}\" (written by `isplab challenge`)")
    seen: dict[str, Path] = {}
    for path, r in results:
        if r.model in seen:
            raise IsplabError(f"{path}: model {r.model!r} already came from {seen[r.model]}; pass one "
                              "result per model")
        seen[r.model] = path
    return [r for _, r in results]


def _fmt(value: float | None, spec: str) -> str:
    return _DASH if value is None else format(value, spec)


class Leaderboard:
    """Our results ranked by Final Score (CPU runtime), plus the report's Table 1 for reference.

    Relative scores divide by a reference model's score. ``reference=None`` picks a *classical-beating*
    baseline: ``microisp`` when it beats the classical row (``classic_isp``) by at least
    :data:`REFERENCE_MARGIN_DB`, else the best-PSNR learned model that does; with no such model (or no
    classical row to judge by, and no ``microisp``) the column is left empty with a note, because a ratio to
    a model that has not learned the task means nothing. A named reference that is missing is an error.

    ``failures`` (run name -> error) are listed under the table: runs that produced no result.
    """

    def __init__(self, results: list[ModelResult | dict[str, Any]], reference: str | None = None,
                 failures: dict[str, str] | None = None):
        rows = [r if isinstance(r, ModelResult) else ModelResult.from_dict(r) for r in results]
        self.failures = dict(failures or {})
        self.notes: list[str] = []
        self.warnings: list[str] = []
        for r in rows:
            if r.final_score is None and r.psnr is not None and r.cpu_runtime_ms is not None:
                r.final_score = final_score(r.psnr, r.cpu_runtime_ms)
        self.classic = next((r for r in rows if r.model == CLASSIC_ROW), None)
        self.reference = reference if reference is not None else self._pick_reference(rows)
        if self.reference is not None:
            rel = relative_scores(rows, reference=self.reference)
            for r in rows:
                r.relative_score = rel[r.model]
        # Best score first; unscored rows last, in input order.
        self.rows = sorted(rows, key=lambda r: -r.final_score if r.final_score is not None else math.inf)

    def gain(self, r: ModelResult) -> float | None:
        """PSNR of ``r`` minus the classical row's (None without both)."""
        if self.classic is None or self.classic.psnr is None or r.psnr is None or r is self.classic:
            return None
        return r.psnr - self.classic.psnr

    def _pick_reference(self, rows: list[ModelResult]) -> str | None:
        scored = [r for r in rows if r.final_score is not None]
        if self.classic is None or self.classic.psnr is None:
            if any(r.model == DEFAULT_REFERENCE for r in scored):
                return DEFAULT_REFERENCE
            self.notes.append(f"No {DEFAULT_REFERENCE!r} result, so no relative scores; pass --reference "
                              "MODEL to compare against another model.")
            return None
        beating = [r for r in scored if (self.gain(r) or -math.inf) >= REFERENCE_MARGIN_DB]
        if not beating:
            self.notes.append(f"No learned model beats the classical ISP by {REFERENCE_MARGIN_DB:g} dB, so "
                              "relative scores are left out: a ratio to a model that has not learned the task "
                              "compares failures.")
            return None
        chosen = next((r for r in beating if r.model == DEFAULT_REFERENCE), None)
        if chosen is None:
            chosen = max(beating, key=lambda r: r.psnr)
            self.notes.append(f"Relative scores use {chosen.model}, the best model beating the classical ISP by "
                              f">= {REFERENCE_MARGIN_DB:g} dB ({DEFAULT_REFERENCE} is absent or does not).")
        return chosen.model

    # --- cells -------------------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        """Our table's headers; a test-split column joins when results carry test scores."""
        columns = OUR_COLUMNS
        if any("test_psnr" in r.extra for r in self.rows):
            at = OUR_COLUMNS.index("vs classical, dB") + 1
            columns = (*OUR_COLUMNS[:at], TEST_COLUMN, *OUR_COLUMNS[at:])
        if any(r.extra.get("accel") for r in self.rows):
            columns = (*columns, *ACCEL_COLUMNS.values())
        return columns

    def _our_cells(self, r: ModelResult) -> list[str]:
        cells = [r.model, r.framework, _fmt(r.size_mb, ".3f"), _fmt(r.psnr, ".2f"), _fmt(r.ssim, ".4f"),
                 _fmt(r.delta_e, ".2f"), _fmt(self.gain(r), "+.2f"), _fmt(r.cpu_runtime_ms, ".1f"),
                 _fmt(r.final_score, ".3g"), _fmt(r.relative_score, ".3f"), r.gpu_audit or _DASH]
        if TEST_COLUMN in self.columns:
            test = (f"{r.extra['test_psnr']:.2f} / {r.extra['test_ssim']:.4f}" if "test_psnr" in r.extra else _DASH)
            cells.insert(self.columns.index(TEST_COLUMN), test)
        if ACCEL_COLUMNS["HTP compiled"] in self.columns:
            accel = r.extra.get("accel") or {}
            cells += [str(accel.get(key, _DASH)) for key in ACCEL_COLUMNS]
        return cells

    @staticmethod
    def _seed_relative(row: ReportRow) -> str:
        """Row's score over MicroISP 1.0's, from PSNR and GPU runtime (C cancels)."""
        ref = find_row("MicroISP 1.0")
        if row.psnr is None or row.gpu_runtime_ms is None:
            return _DASH
        rel = final_score(row.psnr, row.gpu_runtime_ms) / final_score(ref.psnr, ref.gpu_runtime_ms)
        return f"{rel:.3f}"

    def _seed_cells(self) -> list[list[str]]:
        return [[*row.cells, self._seed_relative(row)] for row in TABLE1]

    def _settings(self) -> str:
        """The distinct (input size, threads) the CPU runtimes were measured with."""
        found = []
        for r in self.rows:
            if r.cpu_runtime_ms is None:  # e.g. the classical ISP row: nothing was timed
                continue
            bits = [f"input {r.input_size[0]}x{r.input_size[1]}x4"] if r.input_size else []
            bits += [f"{r.threads} threads"] if r.threads else []
            text = ", ".join(bits) or "settings not recorded"
            if text not in found:
                found.append(text)
        return "; ".join(found) or "no results"

    def _scored(self) -> list[str]:
        """What the PSNR/SSIM/ΔE columns were measured on, and how the models started and the classical
        row worked (from the results' ``extra``/``notes``)."""
        lines = []
        for where in dict.fromkeys(r.extra.get("scored_on") for r in self.rows if r.extra.get("scored_on")):
            lines.append(f"Scored on {where} (never trained on).")
        for where in dict.fromkeys(r.extra.get("test_on") for r in self.rows if r.extra.get("test_on")):
            lines.append(f"{TEST_COLUMN}: {where} (never trained on, never used to choose anything).")
        inits = {r.model: r.extra["init"] for r in self.rows if r.extra.get("init") not in (None, "scratch")}
        if inits:
            lines.append("Initialised from " + "; ".join(f"{m}: {i}" for m, i in inits.items())
                         + " (others trained from scratch).")
        trained = {r.model: r.extra["trained"] for r in self.rows if r.extra.get("trained") not in (None, "paired")}
        if trained:
            lines.append("Trained without aligned pairs: " + "; ".join(f"{m}: {t}" for m, t in trained.items())
                         + " (others on pairs).")
        if self.classic is not None and self.classic.notes:
            lines.append(f"{CLASSIC_ROW}: {self.classic.notes}.")
        return lines

    def _intro(self) -> list[str]:
        how = self._settings()
        ref = f"the {self.reference} row" if self.reference else "no reference"
        return [
            *self._scored(),
            f"Final Score = 2^(2·PSNR) / (C·runtime), C = 2^40 ≈ {C:.4e} (report section 2.5), with our CPU "
            f"runtime (LiteRT XNNPACK; {how}).",
            "The report's runtimes are Snapdragon 8 Gen 1 GPU milliseconds, so compare relative scores "
            f"(score / score of {ref}), not absolute ones, with Table 1 below.",
            *self.notes,
        ]

    # --- markdown ----------------------------------------------------------------------------------

    def to_markdown(self, image_base: str | Path | None = None) -> str:
        """Markdown page; crop images are linked relative to ``image_base`` (the output folder)."""
        lines = ["# isplab leaderboard", "", *[f"{_md_text(t)}  " for t in self._intro()], ""]
        lines += _md_table(self.columns, [self._our_cells(r) for r in self.rows])
        if self.failures:
            lines += ["", "## Failed runs", ""]
            lines += [f"- {_md_text(name)}: `{_md_code(error.splitlines()[0] if error else '')}`"
                      for name, error in self.failures.items()]
        crops = [(r.model, c) for r in self.rows for c in r.crops]
        if crops:
            lines += ["", "## Crops", ""]
            for model, c in crops:
                rel = os.path.relpath(c, image_base) if image_base is not None else c
                lines.append(f"- {_md_text(model)}: ![{_md_text(model)}]({url_quote(Path(rel).as_posix())})")
        lines += ["", "## Reference: MAI 2022 report, Table 1", "", CAPTION + " Last column computed by "
                  "isplab from PSNR and GPU runtime.", ""]
        lines += _md_table((*COLUMNS, "Rel. to MicroISP 1.0"), self._seed_cells())
        return "\n".join(lines) + "\n"

    # --- HTML --------------------------------------------------------------------------------------

    def to_html(self) -> str:
        """One self-contained HTML page: inline CSS, images as base64 data URIs, no external links."""
        e = html.escape
        parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                 "<title>isplab leaderboard</title>", f"<style>{_CSS}</style></head><body>",
                 "<h1>isplab leaderboard</h1>", *[f"<p>{e(t)}</p>" for t in self._intro()],
                 _html_table(self.columns, [self._our_cells(r) for r in self.rows], numeric_from=2)]
        if self.failures:
            parts += ["<h2>Failed runs</h2>", "<ul>",
                      *[f"<li>{e(name)}: <code>{e(error)}</code></li>" for name, error in self.failures.items()],
                      "</ul>"]
        figures = []
        for r in self.rows:
            for c in r.crops:
                uri = self._data_uri(c)
                body = (f'<img alt="{e(r.model)}" src="{uri}">' if uri
                        else f'<div class="missing">missing image: {e(c)}</div>')
                caption = f"<figcaption>{e(r.model)}: {e(Path(c).name)}</figcaption>"
                figures.append(f"<figure>{body}{caption}</figure>")
        if figures:
            parts += ["<h2>Crops</h2>", '<div class="crops">', *figures, "</div>"]
        parts += ["<h2>Reference: MAI 2022 report, Table 1</h2>",
                  f"<p class=\"caption\">{e(CAPTION)} Last column computed by isplab from PSNR and GPU "
                  "runtime.</p>",
                  _html_table((*COLUMNS, "Rel. to MicroISP 1.0"), self._seed_cells(), numeric_from=3),
                  "</body></html>"]
        return "\n".join(parts) + "\n"

    def _data_uri(self, path: str) -> str | None:
        p = Path(path)
        mime = _MIME.get(p.suffix.lower())
        if mime is None or not p.is_file():
            why = "unsupported image type" if mime is None and p.is_file() else "not found"
            self.warnings.append(f"{p}: {why}; left out of the HTML page (use .png/.jpg/.webp/.gif)")
            return None
        return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"

    # --- files -------------------------------------------------------------------------------------

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``leaderboard.md`` and ``leaderboard.html`` into ``out_dir`` atomically."""
        out = Path(out_dir)
        md = write_text_atomic(out / "leaderboard.md", self.to_markdown(image_base=out))
        page = write_text_atomic(out / "leaderboard.html", self.to_html())
        return md, page


def _md_text(text: str) -> str:
    """Text as markdown shows it, never as HTML (names come from result files anyone can write): ``&`` and
    ``<`` as entities, so no tag or entity can start (``->`` stays readable)."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _md_code(text: str) -> str:
    """Text inside a code span (where HTML is not rendered) that cannot close the span."""
    return text.replace("`", "'")


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|")


def _md_table(columns: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return out


def _html_table(columns: tuple[str, ...], rows: list[list[str]], numeric_from: int) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{e(c)}</td>' if i >= numeric_from else f"<td>{e(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;"
    "padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
    "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
    "th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tbody tr:nth-child(even){background:#fafafa}"
    ".caption{color:#555;font-size:.85rem}"
    ".crops{display:flex;flex-wrap:wrap;gap:1rem}"
    "figure{margin:0}figure img{max-width:22rem;image-rendering:pixelated;border:1px solid #ccc}"
    "figcaption{font-size:.8rem;color:#555}.missing{color:#a00}"
)

