import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

# the groups that take longest, longest first (measured on 2 cores: the Ray tests about 7 minutes, the two CAE recipes
# 6, DCASE, effects, EncodecMAE 2-3 each): handed out before the rest, so that the workers finish together instead
# of one waiting on the last long group
LONGEST_FIRST = ["ray", "cae", "dcase_student_int8", "effects_gru_tor", "encodecmae_lite_int8"]


@pytest.hookimpl(tryfirst=True)      # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(items):
    """`make test` runs the suite on two workers (pytest-xdist, --dist loadgroup --no-loadscope-reorder). A module
    runs on one worker, so that its module fixtures are built once, unless its tests name a group of their own
    (xdist_group); the long groups go first, then the other slow tests, then the rest."""
    def rank(item):
        name = item.get_closest_marker("xdist_group").args[0]
        if name in LONGEST_FIRST:
            return LONGEST_FIRST.index(name)
        return len(LONGEST_FIRST) + (item.get_closest_marker("slow") is None)

    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=rank)     # stable: the order within a group stays


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """`make test` stops at once if pytest-xdist's loadgroup did not group (it writes the group into each node id,
    which pytest 9.2 no longer takes: pytest-xdist issue 1386): a recipe's tests would run on both workers, and the
    Ray tests at the same time."""
    if node.config.getvalue("dist") == "loadgroup" and any("@" not in nodeid for nodeid in ids):
        pytest.exit("pytest-xdist's --dist loadgroup did not group the tests (pytest-xdist issue 1386); "
                    "requirements.lock pins a pytest it works with", returncode=4)
