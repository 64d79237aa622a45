"""compressor: hardware-aware compression of Keras audio models for Cortex-M microcontrollers and FPGAs.

    import compressor
    run = compressor.run_recipe("dcase_student_int8", quick=True)        # a recipe: name, YAML path or Recipe
    run = compressor.compress(model, "cortex-m4", data=x, out="out/kws")   # a model (path or keras.Model) -> int8
    run = compressor.analyze(model, "cortex-m4", budgets={"macs": 30e6})  # counts, memory, estimates; no training
    run = compressor.search("dcase_student_search", quick=True)     # plans on Ray Tune; the best that fits
    run.record["verdict"], run.record["figures"], run.artifacts, run.models

Each returns a Run (compressor.api.Run). The names load on first use, so `import compressor` stays light.
"""

__all__ = ["Run", "analyze", "compress", "load_recipe", "run_recipe", "search"]


def __getattr__(name):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'compressor' has no attribute {name!r}")
