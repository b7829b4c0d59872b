"""Weights: typed model cards, bundled weights, checkpoints, safe loading, the weights store, downloads."""
