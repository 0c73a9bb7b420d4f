"""Search on Optuna: the space as distributions, strategies as samplers, the study as storage."""

from kubetune.search.samplers import SAMPLER_FACTORIES, SamplerUnavailable, build_sampler
from kubetune.search.space import ParamValue, SearchSpace
from kubetune.search.storage import open_storage

__all__ = [
    "SAMPLER_FACTORIES",
    "ParamValue",
    "SamplerUnavailable",
    "SearchSpace",
    "build_sampler",
    "open_storage",
]
