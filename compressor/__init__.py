"""compressor: hardware-aware compression of Keras audio models for Cortex-M and FPGA targets."""

__version__ = "0.1.0"
