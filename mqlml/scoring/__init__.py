"""Scoring leads with a bundle: the scorer, the streamed file job, predictors, the Arrow
encoder, explanations and the C kernels."""
