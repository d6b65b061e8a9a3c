"""Emotion-recognition metrics, as the affective-computing literature (and EMOCA's tables) report them.

Classes: accuracy and macro-F1 over integer labels. Valence/arousal (continuous, in [-1, 1]): CCC
(Lin's concordance correlation), PCC (Pearson), RMSE and SAGR (sign agreement). All take 1-D numpy
arrays of equal length and return floats; an empty input raises ValueError.
"""

import numpy as np


def _pair(prediction, target) -> tuple[np.ndarray, np.ndarray]:
    prediction, target = np.asarray(prediction, np.float64).ravel(), np.asarray(target, np.float64).ravel()
    if prediction.shape != target.shape or prediction.size == 0:
        raise ValueError(f"need two non-empty arrays of one length, got {prediction.size} and {target.size}")
    return prediction, target


def accuracy(prediction, target) -> float:
    """Share of equal labels."""
    prediction, target = _pair(prediction, target)
    return float((prediction == target).mean())


def macro_f1(prediction, target, n_classes: int) -> float:
    """Unweighted mean of F1 = 2 TP / (2 TP + FP + FN) over the labels 0..n_classes-1 that occur in the
    target or the prediction (as scikit-learn's `f1_score(average="macro")`); a class nobody has and
    nothing predicts is left out rather than counted as 0."""
    prediction, target = _pair(prediction, target)
    scores = []
    for label in range(n_classes):
        predicted, true = prediction == label, target == label
        if not predicted.any() and not true.any():
            continue
        true_positive = np.sum(predicted & true)
        scores.append(2 * true_positive / (predicted.sum() + true.sum()))
    return float(np.mean(scores))


def pcc(prediction, target) -> float:
    """Pearson correlation; 0 when either side is constant."""
    prediction, target = _pair(prediction, target)
    spread = prediction.std() * target.std()
    return float(((prediction - prediction.mean()) * (target - target.mean())).mean() / spread) if spread else 0.0


def ccc(prediction, target) -> float:
    """Lin's concordance correlation: 2 cov / (var_p + var_t + (mean_p - mean_t)^2) (population moments)."""
    prediction, target = _pair(prediction, target)
    covariance = ((prediction - prediction.mean()) * (target - target.mean())).mean()
    denominator = prediction.var() + target.var() + (prediction.mean() - target.mean()) ** 2
    return float(2 * covariance / denominator) if denominator else 1.0


def rmse(prediction, target) -> float:
    """Root mean squared error, in the values' units."""
    prediction, target = _pair(prediction, target)
    return float(np.sqrt(np.mean((prediction - target) ** 2)))


def sagr(prediction, target) -> float:
    """Sign agreement: share of values whose sign (positive vs not) matches the target's."""
    prediction, target = _pair(prediction, target)
    return float(np.mean((prediction > 0) == (target > 0)))
