"""Pre-labeling: detectors, tracker, offline refinement, batch runner (no Qt)."""
