"""The emotion classes and their places on the valence/arousal plane, shared by every part that
names emotions (data sets, recognisers, outputs), and the record of one face's emotion."""

from dataclasses import dataclass

import numpy as np

EMOTIONS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
"""The 8 classes, in this order everywhere (AffectNet's order)."""

# Positions (valence, arousal) of the classes on Russell's circumplex (Russell 1980, "A circumplex model
# of affect"), hand-placed from the angles of that paper's figure, unit radius for the full emotions.
# Used for V/A only while the model has no V/A supervision: V/A = sum_c p_c * position_c.
CIRCUMPLEX = {
    "neutral": (0.0, 0.0),
    "happy": (0.8, 0.35),
    "sad": (-0.75, -0.4),
    "surprise": (0.2, 0.9),
    "fear": (-0.45, 0.8),
    "disgust": (-0.7, 0.35),
    "anger": (-0.55, 0.75),
    "contempt": (-0.6, 0.2),
}


@dataclass
class FaceEmotion:
    """One face's emotion. probabilities: (8,) over `EMOTIONS`, summing to 1. valence, arousal: in
    [-1, 1]. va_supervised: V/A from a head trained on V/A labels (else from the probabilities and
    `CIRCUMPLEX`). source: "image" (the recogniser on the face crop) or "geometry" (the reconstruction's
    expression parameters alone)."""

    probabilities: np.ndarray
    valence: float
    arousal: float
    va_supervised: bool
    source: str

    @property
    def expression(self) -> str:
        """The most probable class."""
        return EMOTIONS[int(np.argmax(self.probabilities))]

    def to_json(self) -> dict:
        """The `emotion` record of params.json / params.jsonl and of `emoca emotion --json`."""
        return {"expression": self.expression,
                "probabilities": {name: round(float(p), 4) for name, p in zip(EMOTIONS, self.probabilities,
                                                                             strict=True)},
                "valence": round(self.valence, 4), "arousal": round(self.arousal, 4),
                "va_supervised": self.va_supervised, "source": self.source}


def median_emotion(emotions: list[FaceEmotion]) -> FaceEmotion:
    """The element-wise median of a few frames' emotions (probabilities renormalised): over a centred
    window of three frames it removes one-frame flicker and follows a step without lag."""
    probabilities = np.median(np.stack([e.probabilities for e in emotions]), 0)
    middle = emotions[len(emotions) // 2]
    return FaceEmotion(probabilities / probabilities.sum(), float(np.median([e.valence for e in emotions])),
                       float(np.median([e.arousal for e in emotions])), middle.va_supervised, middle.source)
