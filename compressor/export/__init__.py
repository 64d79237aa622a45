"""Exports of a Keras model to the forms the boards run: int8 TFLite + TFLite Micro C array (Cortex-M)."""
