"""The reconstruction methods' names (light: the CLI lists them without loading torch).

fit: analysis by synthesis (`emoca.predictors.fitter`). regress: the EMOCA regressor (`emoca.nets.regressor`).
regress+fit: a short fit started from the regressor's result. regress+identity: the same short fit with
the regressor's expression held (its emotion kept; identity, pose, camera, light and albedo fitted).
emoca: EMOCA's emotion-consistency loss at test time: a short fit from the regressor with its expression
anchored, then the expression alone refined under the landmarks and the emotion term
(`emoca.predictors.emoca`).
"""

METHODS = ("fit", "regress", "regress+fit", "regress+identity", "emoca")
DEFAULT_METHOD = "emoca"  # every command's default with ICT: the photo's emotion on a face that lands on it
FAST_METHOD = "regress"  # the fast path (video, live use, large collections)
FLAME_METHOD = "fit"  # the regressor is ICT's: FLAME is fitted


def default_method(model: str) -> str:
    """The method a command uses for `model` ("ict" or "flame") when none is asked for."""
    return FLAME_METHOD if model == "flame" else DEFAULT_METHOD
