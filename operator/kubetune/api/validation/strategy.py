"""``spec.strategy`` (its settings, grid's finite space, maxTrials) and ``spec.earlyStopping``."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from kubetune.api.errors import FieldError, from_validation_error
from kubetune.api.settings import SETTINGS_MODELS
from kubetune.api.validation.parameters import is_finite_parameter
from kubetune.api.validation.parts import Parts


def strategy_errors(parts: Parts) -> Iterator[FieldError]:
    strategy = parts.strategy.ok("algorithm")
    if strategy is None:
        return
    if parts.strategy.ok("settings") is not None:
        settings_model = SETTINGS_MODELS[strategy.algorithm]
        try:
            settings_model.model_validate(strategy.settings)
        except ValidationError as error:
            yield from from_validation_error(error, ("spec", "strategy", "settings"))
    if strategy.algorithm == "grid":
        for index, part in parts.parameters:
            parameter = part.ok("type", "step")
            if parameter is not None and not is_finite_parameter(parameter):
                yield FieldError(
                    f"spec.parameters[{index}].step",
                    f"grid search needs a finite space: float parameter {parameter.name!r} "
                    "needs a step (or use type int or categorical)",
                )
        return
    limits = parts.limits.ok("maxTrials")
    if limits is not None and limits.max_trials is None:
        yield FieldError(
            "spec.limits.maxTrials",
            f"required for strategy {strategy.algorithm} (only grid has a default)",
        )


def early_stopping_errors(parts: Parts) -> Iterator[FieldError]:
    early = parts.early_stopping.ok("algorithm", "minResource", "maxResource")
    if (
        early is not None
        and early.algorithm == "hyperband"
        and early.max_resource is not None
        and early.max_resource <= early.min_resource
    ):
        yield FieldError(
            "spec.earlyStopping.maxResource",
            f"must be greater than minResource ({early.max_resource} <= {early.min_resource})",
        )
