"""One helper turning what a run record or an hls4ml config holds into what JSON can hold."""


def plain(value):
    """`value` with numpy scalars and arrays as numbers and lists, dict keys as text, tuples as lists, and anything
    else JSON has no type for (a Path, an hls4ml precision object) as its text. Also serves as json.dumps' default=."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "tolist"):     # numpy scalar or array
        return plain(value.tolist())
    return str(value)
