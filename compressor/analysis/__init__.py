"""Analysis of a model without training or exporting it - a model or a flatbuffer in, figures out: counts, memory,
MCU latency/energy estimates, QTools energy, the hls4ml design choice and its resource estimate, synthesis-report
parsing, and the budget and check rules of the verdict. Nothing here imports an exporter."""
