"""Audio data for the model families: front ends (librosa), readers for real dataset layouts, built-in synthetic
data and augmentation. `load_data` is the entry point."""

from .dataset import Dataset, load_data

__all__ = ["Dataset", "load_data"]
