"""Expression correctives: the identity-space part of how faces really move under expression.

ICT's 53 blendshapes do not move the face quite as our landmark detectors see real faces move: fitted
one photo at a time, a smile's missing part (mouth corners further out and up, lower lids higher) is
taken up by the identity, so a person's identity drifts with their expression. The correctives are a
(53, K) matrix `C` learned from people photographed with several expressions
(`emoca.train.expression_correctives`): the fitted mesh is

    ICT(identity + expression @ C, expression)

so each blendshape carries its learned identity-space correction, and `identity` stays the person's.
`params.json` reports both `identity` and `mesh_identity` (= identity + expression @ C: the identity
weights that rebuild `mesh.obj` with ICT's own blendshapes).
"""

from pathlib import Path

import numpy as np
import torch

CORRECTIVES = Path(__file__).resolve().parent / "data" / "ict_expression_correctives.npz"


def load_correctives(n_expression: int, n_identity: int, path: Path = CORRECTIVES) -> torch.Tensor | None:
    """The (n_expression, n_identity) float32 corrective matrix, or None when no file is shipped at
    `path` or it was learned for a model of another size (e.g. an ICT build with other identity modes)."""
    if not path.is_file():
        return None
    matrix = np.load(path)["correctives"]
    if matrix.shape != (n_expression, n_identity):
        return None
    return torch.from_numpy(matrix.astype(np.float32))


def within_subject_slope(identity: np.ndarray, expression: np.ndarray, subjects: list[str],
                         ridge: float) -> np.ndarray:
    """Ridge least-squares slope of identity on expression *within* subjects.

    Each subject's mean identity and mean expression are removed first, so differences between people
    do not enter: only how one person's fitted identity moves when their expression changes.

    Args:
        identity: (N, K) fitted identities. expression: (N, E) fitted expression weights.
        subjects: N subject names (photos of one person share a name).
        ridge: Tikhonov weight on the slope (in units of squared expression weight).
    Returns:
        (E, K) slope S minimising |dI - dE S|^2 + ridge |S|^2.
    """
    names = np.asarray(subjects)
    d_identity, d_expression = identity.astype(np.float64), expression.astype(np.float64)
    for name in np.unique(names):
        rows = names == name
        d_identity[rows] -= d_identity[rows].mean(0)
        d_expression[rows] -= d_expression[rows].mean(0)
    gram = d_expression.T @ d_expression + ridge * np.eye(expression.shape[1])
    return np.linalg.solve(gram, d_expression.T @ d_identity)
