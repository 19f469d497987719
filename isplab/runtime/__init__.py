"""Running exported models: the one LiteRT interpreter wrapper (:mod:`.litert`) that export parity, bench,
develop and search share, and the conventions of the files it runs.

Exported isplab models take one NHWC input ``raw [1, H, W, 4]`` (packed Bayer) and give one NHWC output
``rgb [1, 2H, 2W, 3]``; :data:`FULL_HD_INPUT` is the challenge's Full-HD frame (1088x1920 output).
Importing this package is cheap (no torch, no LiteRT until a model is loaded).
"""

#: Packed ``(H, W)`` input of a Full-HD (1088x1920) frame, the size the MAI 2022 report timed models at.
FULL_HD_INPUT: tuple[int, int] = (544, 960)
