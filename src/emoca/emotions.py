"""The emotion classes and their places on the valence/arousal plane, shared by every part that
names emotions (data sets, recognisers, outputs)."""

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
