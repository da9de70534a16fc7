"""MediaPipe Face Landmarker: model loading, single-image extraction and batch extraction over the store."""
