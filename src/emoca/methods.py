"""The reconstruction methods' names (light: the CLI lists them without loading torch).

fit: analysis by synthesis (`emoca.predictors.fitter`). regress: the EMOCA regressor (`emoca.nets.regressor`).
regress+fit: a short fit started from the regressor's result. regress+identity: the same short fit with
the regressor's expression held (its emotion kept; identity, pose, camera, light and albedo fitted).
"""

METHODS = ("fit", "regress", "regress+fit", "regress+identity")
