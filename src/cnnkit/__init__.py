"""cnnkit: regularization building blocks for convolutional image classifiers.

Build a small CNN from composable blocks, train it on any device with a trainer that records a
full history, and ask :func:`diagnose` whether the run overfits, underfits or converges slowly.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
