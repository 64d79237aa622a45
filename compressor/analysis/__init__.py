"""Analysis of a model without training it: counts, memory, MCU latency/energy estimates, budgets."""
