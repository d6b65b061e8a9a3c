"""Predictors: anything that turns `FaceTargets` into `FaceParams` (`protocol.Predictor`): the fitter
(`fitter`), the regressor's predictor (`regressor`), refinements, and the objective they share
(`objective`: landmarks, closure, photometric on a `Decoded`; `emotion_term`: the emotion consistency;
`camera`: the closed-form camera)."""
