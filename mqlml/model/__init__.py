"""The model and its training: the estimator, calibration, threshold, segments, accounts,
the points scale, the bundle and the training job."""
