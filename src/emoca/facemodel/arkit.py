"""ICT-FaceKit's 53 expression weights <-> Apple ARKit's 52 blendshape coefficients.

ICT names its shapes like ARKit with `_L`/`_R` (the subject's left/right, as ARKit's Left/Right) and
splits two that ARKit keeps whole: `browInnerUp` and `cheekPuff` are the means of ICT's _L/_R pairs.
ARKit's `tongueOut` has no ICT shape: it is always 0 from ICT and ignored towards ICT.
"""

import torch

from emoca.facemodel.ict_files import EXPRESSION_NAMES

# ARKit's 52 names in the order of Apple's ARFaceAnchor.BlendShapeLocation listing.
ARKIT_NAMES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight",
    "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft",
    "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp",
    "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)


def arkit_name(ict_name: str) -> str:
    """ARKit name of an ICT shape: `_L` -> `Left`, `_R` -> `Right`; the merged pairs lose the side."""
    base = ict_name[:-2] if ict_name[-2:] in ("_L", "_R") else ict_name
    if base in ("browInnerUp", "cheekPuff"):
        return base
    return {"_L": base + "Left", "_R": base + "Right"}.get(ict_name[-2:], ict_name)


def _ict_to_arkit_matrix() -> torch.Tensor:
    """(52, 53): ARKit coefficient = row . ICT weights."""
    matrix = torch.zeros(len(ARKIT_NAMES), len(EXPRESSION_NAMES), dtype=torch.float64)
    for j, name in enumerate(EXPRESSION_NAMES):
        matrix[ARKIT_NAMES.index(arkit_name(name)), j] = 1.0
    return matrix / matrix.sum(1, keepdim=True).clamp(min=1)  # the merged pairs average


def ict_to_arkit(weights: torch.Tensor) -> torch.Tensor:
    """(..., 53) ICT expression weights -> (..., 52) ARKit coefficients in `ARKIT_NAMES` order."""
    return weights @ _ict_to_arkit_matrix().to(weights).T


def arkit_to_ict(coefficients: torch.Tensor) -> torch.Tensor:
    """(..., 52) ARKit coefficients -> (..., 53) ICT weights; merged shapes go to both sides."""
    spread = (_ict_to_arkit_matrix() > 0).to(coefficients)  # (52, 53): each ICT shape reads its ARKit one
    return coefficients @ spread
