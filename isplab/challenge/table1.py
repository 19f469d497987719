"""Table 1 of the MAI 2022 learned smartphone ISP challenge report, transcribed row by row.

Every row as printed, in the report's order: the 12 final submissions (including the two that failed
to run), then the three reference baselines (MicroISP 1.0/0.5, PyNET-V2 Mobile). Cells are kept as the
report's text (``"23.8"``, ``"> 10 min"``, ``"Failed"``, ``"N.A."``); :class:`ReportRow` adds parsed
numbers (None where the report has no number). Runtimes: Full HD (1920x1088) output on the Snapdragon
8 Gen 1, CPU and GPU (TFLite GPU delegate); the Final Score uses the GPU runtime.

Footnote ``*`` (team Multimedia): its submitted TFLite had corrupted weights from an incorrect model
conversion, fixed after the end of the challenge. ``[27]``/``[23]`` are the report's citations.
Author handles are as in Table 1 (Table 2 of the report spells two differently: ``lillythecutie``,
``gosha20777``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Column headers as in the report (arrows dropped).
COLUMNS = ("Team", "Author", "Framework", "Model Size, MB", "PSNR", "SSIM", "CPU Runtime, ms",
           "GPU Runtime, ms", "Final Score")

CAPTION = ("Table 1 of the MAI 2022 report: Full HD (1920x1088) runtimes on the Snapdragon 8 Gen 1; "
           "Final Score from the GPU runtime. MicroISP and PyNET-V2 Mobile rows are the reference "
           "baselines. * Multimedia's submitted TFLite had corrupted weights from an incorrect model "
           "conversion, fixed after the challenge.")

_ROWS = (
    ("MiAlgo", "mialgo_ls", "TensorFlow", "0.014", "23.33", "0.8516", "135", "6.8", "14.87"),
    ("ENERZAi", "MinsuKwon", "TensorFlow", "0.077", "23.8", "0.8652", "208", "18.9", "10.27"),
    ("HITZST01", "Jaszhang", "Keras / TensorFlow", "0.060", "23.89", "0.8666", "712", "34.3", "6.41"),
    ("MINCHO", "Minhyeok", "TensorFlow", "0.067", "23.65", "0.8658", "886", "41.5", "3.8"),
    ("ENERZAi", "MinsuKwon", "TensorFlow", "4.5", "24.08", "0.8778", "45956", "212", "1.35"),
    ("HITZST01", "Jaszhang", "Keras / TensorFlow", "1.2", "24.09", "0.8667", "4694", "482", "0.6"),
    ("JMU-CVLab", "nanashi", "Keras / TensorFlow", "0.041", "23.22", "0.8281", "3487", "182", "0.48"),
    ("rainbow", "zheng222", "TensorFlow", "1.0", "21.66", "0.8399", "277", "28", "0.36"),
    ("CASIA 1st", "Zevin", "PyTorch / TensorFlow", "205", "24.09", "0.884", "14792", "1044", "0.28"),
    ("MiAlgo", "mialgo_ls", "PyTorch / TensorFlow", "117", "23.65", "0.8673", "15448", "1164", "0.14"),
    ("DANN-ISP", "goshha20777", "TensorFlow", "29.4", "23.1", "0.8648", "97333", "583", "0.13"),
    ("Multimedia *", "lillytheeticie", "PyTorch / OpenVINO", "0.029", "23.96", "0.8543", "293", "11.4", "21.24"),  # noqa: E501 - one report row per line
    ("SKD-VSP", "dongdongdong", "PyTorch / TensorFlow", "78.9", "24.08", "0.8778", "> 10 min", "Failed", "N.A."),  # noqa: E501 - one report row per line
    ("CHannel Team", "sawyer2212", "PyTorch / TensorFlow", "102.0", "22.28", "0.8482", "> 10 min", "Failed", "N.A."),  # noqa: E501 - one report row per line
    ("MicroISP 1.0 [27]", "Baseline", "TensorFlow", "0.152", "23.87", "0.8530", "973", "23.1", "9.25"),
    ("MicroISP 0.5 [27]", "Baseline", "TensorFlow", "0.077", "23.60", "0.8460", "503", "15.6", "9.43"),
    ("PyNET-V2 Mobile [23]", "Baseline", "TensorFlow", "3.6", "24.72", "0.8783", "8342", "194", "3.58"),
)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "> 10 min", "Failed", "N.A."
        return None


@dataclass(frozen=True)
class ReportRow:
    """One row of Table 1: the report's cell texts plus parsed numbers."""

    team: str
    author: str
    framework: str
    size_mb_text: str
    psnr_text: str
    ssim_text: str
    cpu_runtime_text: str
    gpu_runtime_text: str
    final_score_text: str

    @property
    def cells(self) -> tuple[str, ...]:
        return (self.team, self.author, self.framework, self.size_mb_text, self.psnr_text, self.ssim_text,
                self.cpu_runtime_text, self.gpu_runtime_text, self.final_score_text)

    @property
    def size_mb(self) -> float | None:
        return _number(self.size_mb_text)

    @property
    def psnr(self) -> float | None:
        return _number(self.psnr_text)

    @property
    def ssim(self) -> float | None:
        return _number(self.ssim_text)

    @property
    def cpu_runtime_ms(self) -> float | None:
        return _number(self.cpu_runtime_text)

    @property
    def gpu_runtime_ms(self) -> float | None:
        return _number(self.gpu_runtime_text)

    @property
    def final_score(self) -> float | None:
        return _number(self.final_score_text)

    @property
    def is_baseline(self) -> bool:
        return self.author == "Baseline"

    @property
    def failed(self) -> bool:
        return self.gpu_runtime_text == "Failed"


#: All 17 rows of Table 1, in the report's order.
TABLE1: tuple[ReportRow, ...] = tuple(ReportRow(*row) for row in _ROWS)


def find_row(team_prefix: str) -> ReportRow:
    """The first row whose team starts with ``team_prefix`` (e.g. ``"MicroISP 1.0"``)."""
    for row in TABLE1:
        if row.team.startswith(team_prefix):
            return row
    raise KeyError(team_prefix)
