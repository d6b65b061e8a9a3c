"""Named landmark pairs for the eye-closure and lip-closure losses of EMOCA v2.

Each pair is (upper, lower): the distance between the two points is the lid or lip opening. Indices are
into the 68 iBUG / 300-W points (0-based) and into MediaPipe's 478 points; the MediaPipe pairs were
checked on the mean detected shape (`emoca.detect` template): lower point below the upper one, within
4% of the eye-corner distance horizontally. Sides are the subject's.
"""

import numpy as np

IBUG_EYE_PAIRS = {"right": ((37, 41), (38, 40)), "left": ((43, 47), (44, 46))}
IBUG_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
MEDIAPIPE_EYE_PAIRS = {"right": ((160, 144), (159, 145), (158, 153)), "left": ((385, 380), (386, 374), (387, 373))}
MEDIAPIPE_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
MEDIAPIPE_IRIS_CENTRES = {"right": 468, "left": 473}
OUTER_EYE_CORNERS = (36, 45)
"""The 68-point indices of the outer eye corners: their distance is the unit of landmark errors (NME)."""


def outer_eye_distance(points):
    """(..., 68, 2+) iBUG points (NumPy or torch) -> (...) distance between the outer eye corners."""
    difference = points[..., OUTER_EYE_CORNERS[0], :2] - points[..., OUTER_EYE_CORNERS[1], :2]
    return np.linalg.norm(difference, axis=-1) if isinstance(difference, np.ndarray) else difference.norm(dim=-1)
