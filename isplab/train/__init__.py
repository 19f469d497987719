"""Training: typed configs, the training loop, checkpoints."""
