"""The compression methods as a library, each a tfmot-sized verb usable alone from Python: fit (train with a named
loss and optimizer), quantize (QKeras), prune (tfmot), distill (knowledge distillation) and their losses. The
recipe's step kinds (compressor/steps/) call these; nothing here knows about recipes or runs.
"""
