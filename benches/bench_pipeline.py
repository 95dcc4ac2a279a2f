"""The whole default engagement (measure → track → guide → plant), compiled vs reference."""
import pytest

from xband import _kernels, pipeline
from xband.config import default_scenario


@pytest.mark.parametrize("kind", ["cython", "reference"])
def test_demo_engagement(benchmark, kind):
    sc = default_scenario()
    before = _kernels._state["mode"]
    _kernels.set_backend(kind)
    try:
        benchmark.group = "demo engagement (no recording)"
        benchmark.extra_info["backend"] = kind
        result = benchmark.pedantic(pipeline.run, args=(sc,), rounds=3, iterations=1)
    finally:
        _kernels.set_backend(before)
    assert result.status == "intercept"
    benchmark.extra_info["miss_distance_m"] = result.miss_distance_m
