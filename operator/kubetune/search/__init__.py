"""Search on Optuna: the space as distributions, strategies as samplers, the study as storage."""

from kubetune.search.pruners import PRUNER_FACTORIES, build_pruner
from kubetune.search.samplers import SAMPLER_FACTORIES, SamplerUnavailable, build_sampler
from kubetune.search.space import SearchSpace
from kubetune.search.storage import open_storage
from kubetune.trials import ParamValue

__all__ = [
    "PRUNER_FACTORIES",
    "SAMPLER_FACTORIES",
    "ParamValue",
    "SamplerUnavailable",
    "SearchSpace",
    "build_pruner",
    "build_sampler",
    "open_storage",
]
