"""ForkFlow: a restaurant's live order system."""

__version__ = "0.1.0"
