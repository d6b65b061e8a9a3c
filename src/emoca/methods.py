"""The reconstruction methods' names (light: the CLI lists them without loading torch).

fit: analysis by synthesis (`emoca.predictors.fitter`). regress: the EMOCA regressor (`emoca.nets.regressor`).
regress+fit: a short fit started from the regressor's result. regress+identity: the same short fit with
the regressor's expression held (its emotion kept; identity, pose, camera, light and albedo fitted).
emoca: EMOCA's emotion-consistency loss at test time: a short fit from the regressor with its expression
anchored, then the expression alone refined under the landmarks and the emotion term
(`emoca.predictors.emoca`).
"""

METHODS = ("fit", "regress", "regress+fit", "regress+identity", "emoca")
# The defaults (docs/emoca_method.md): on the unreported tuning sets `emoca` (3/10/3 fit, 10 emotion steps;
# checked again from the stage 2 of 2026-12-03 14:00 UTC) keeps more of the photo's emotion for our
# recogniser than `regress` (feature distance 0.319 against 0.376 on expressions_wild train photos) and
# lands nearer the points (HELEN trainset 3.51% against 3.78%); it tells people apart as the regressor does
# (London 97.1%), in about 0.3 s a photo: `reconstruct` and the Python API use it for ICT. The judge's
# reported figures barely separate it from `regress` (expressions_wild valid 48.4% against 47.6%, FER+ test
# 56.5% for both, from the stage 2 of 17:45 UTC). The regressor is ICT's only, so FLAME keeps the fitter;
# the interactive commands keep the regressor (tens of milliseconds a face).
DEFAULT_METHOD = "emoca"  # reconstruct, the Python API (ICT)
FLAME_METHOD = "fit"  # reconstruct, the Python API with --model flame
FAST_METHOD = "regress"  # animate, serve, emotion --from geometry: the fast path (video, live use)


def default_method(model: str) -> str:
    """The method `reconstruct` and the Python API use for `model` ("ict" or "flame") when none is asked."""
    return DEFAULT_METHOD if model == "ict" else FLAME_METHOD
