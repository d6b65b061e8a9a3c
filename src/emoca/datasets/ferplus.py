"""FER+ (`../shared/data/ferplus/ferplus.npz`): FER2013 48x48 grey faces with 10 crowd votes.

Labels follow the FER+ authors' "majority" rule: vote counts of 1 are zeroed (outliers), the top class
wins with more than half of the remaining votes, and faces whose winner is unknown / not-a-face or with
no majority are dropped. Soft targets are the cleaned vote distributions over the 8 emotions, reordered
from FER+'s columns to `emoca.nets.emotion.EMOTIONS` by name.
"""

from pathlib import Path

import numpy as np

from emoca.datasets.faces import FaceSet
from emoca.emotions import EMOTIONS
from emoca.errors import InputError

VOTE_COLUMNS = ("neutral", "happy", "surprise", "sad", "anger", "disgust", "fear", "contempt", "unknown", "nf")
SPLITS = {"train": 0, "valid": 1, "test": 2}
DEFAULT_PATH = Path(__file__).resolve().parents[4] / "shared" / "data" / "ferplus" / "ferplus.npz"


def majority_votes(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FER+ majority rule on (N, 10) votes -> (keep (N,) bool, cleaned (N, 10) float votes)."""
    cleaned = votes.astype(np.float32)
    cleaned[cleaned <= 1] = 0
    total = cleaned.sum(1)
    top = cleaned.argmax(1)
    keep = (total > 0) & (cleaned.max(1) > 0.5 * total) & (top < 8)
    return keep, cleaned


def load_ferplus(split: str, path: str | Path | None = None) -> FaceSet:
    """One split ("train", "valid" or "test") of FER+, with the majority rule applied."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        with np.load(path) as data:
            images, votes, splits = data["images"], data["votes"], data["split"]
    except (OSError, KeyError, ValueError) as error:
        raise InputError(path, f"not a readable FER+ npz ({error})") from None
    keep, cleaned = majority_votes(votes)
    rows = np.flatnonzero(keep & (splits == SPLITS[split]))
    order = [VOTE_COLUMNS.index(name) for name in EMOTIONS]
    emotion_votes = cleaned[rows][:, order]
    targets = emotion_votes / emotion_votes.sum(1, keepdims=True)
    return FaceSet(images[rows], targets.astype(np.float32), targets.argmax(1))
