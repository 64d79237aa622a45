"""Exports of a Keras model to the forms the boards run, each checked in the run: int8 TFLite with its TFLite Micro
C array for a Cortex-M (int8.py, tflite.py, tflm.py, carray.py, streaming.py) and the hls4ml project with its C
simulation for an FPGA (hls.py). Export never decides budgets."""
