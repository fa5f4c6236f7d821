"""Training of the OCR models from the simulator's line samples; the node never imports this package."""
