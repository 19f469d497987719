"""The MAI 2022 challenge, reproduced: ``run`` (the main job: train, evaluate, export, benchmark, score each
model), ``leaderboard`` (markdown/HTML table of the results), ``score`` (the report's Final Score) and
``table1`` (the report's Table 1, transcribed). Submodules import on use: ``score`` and ``table1`` need no
torch."""
