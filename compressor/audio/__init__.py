"""Audio data for the model families: front ends (librosa), readers for real dataset layouts, built-in synthetic
data. `load_data` is the entry point; a family's `DataSpec` says how its data is made and read."""

from .dataset import Dataset, DataSpec, load_data

__all__ = ["Dataset", "DataSpec", "load_data"]
