"""The compression steps as a library: train, quantize (QKeras), prune (tfmot), distill (KD), and their losses.

Each module does one job and is usable alone from Python; the recipe engine calls the same functions.
"""
