"""``spec.limits``: trial counts, parallelism and timeouts."""

from __future__ import annotations

from pydantic import Field

from kubetune.api.duration import parse_duration
from kubetune.api.spec.base import (
    DURATION_HELP,
    Duration,
    SpecModel,
)

# Far beyond real studies (docs/operations.md#limits-on-untrusted-input): 20,000 parallel
# trials were accepted and launched 6,519 Jobs in 90 s before these existed.
MAX_TRIALS = 100_000
MAX_PARALLEL_TRIALS = 1_000


class Limits(SpecModel):
    """When the TuningJob ends, and how much runs at once."""

    max_trials: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRIALS,
        description=(
            "How many trials to run in total (failed and stopped trials count). Required unless "
            "strategy.algorithm is grid, where it defaults to the grid size. 1 to 100,000."
        ),
    )
    parallel_trials: int = Field(
        default=1,
        ge=1,
        le=MAX_PARALLEL_TRIALS,
        description="How many trials run at the same time. 1 to 1,000; default 1.",
    )
    max_failed_trials: int = Field(
        default=3,
        ge=0,
        le=MAX_TRIALS,
        description=(
            "How many trials may fail before the TuningJob fails with reason "
            "MaxFailedTrialsExceeded (failing one more than this ends it). 0 to 100,000; default 3."
        ),
    )
    max_runtime: Duration | None = Field(
        default=None,
        description=(
            "Longest time the whole TuningJob may run; it then completes with reason "
            f"MaxRuntimeReached. {DURATION_HELP} Unset: no limit."
        ),
    )
    trial_timeout: Duration | None = Field(
        default=None,
        description=(
            "Longest time one trial may run (set as the trial Job's activeDeadlineSeconds); "
            f"it then fails with reason DeadlineExceeded. {DURATION_HELP} Unset: no limit."
        ),
    )
    pending_timeout: Duration | None = Field(
        default=None,
        description=(
            "Longest time a trial's pod may wait to be scheduled, counted from when the trial "
            "last became runnable (created, or resumed from a queue); it then fails with reason "
            f"PendingTimeout. {DURATION_HELP} Unset: trials wait indefinitely."
        ),
    )
    queue_timeout: Duration | None = Field(
        default=None,
        description=(
            "Longest time a trial may stay queued: its Job suspended (by Kueue, by a user, or "
            "created suspended) and not yet admitted; it then fails with reason QueueTimeout. "
            "pendingTimeout and trialTimeout do not run while a trial is queued. "
            f"{DURATION_HELP} Unset: trials may wait in a queue indefinitely."
        ),
    )
    max_trial_retries: int = Field(
        default=2,
        ge=0,
        description=(
            "How many times a trial interrupted by the infrastructure (pod evicted, preempted, "
            "its node lost or drained) is run again, with the same parameters and trial number. "
            "Interruptions never count towards maxFailedTrials; one more than this fails the "
            "trial with a reason naming the interruption. 0 or more; default 2."
        ),
    )
    stop_after_trials_without_improvement: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRIALS,
        description=(
            "Complete with reason NoImprovement once this many trials in a row finished without "
            "improving on the best objective. 1 to 100,000. Unset: never."
        ),
    )

    @property
    def max_runtime_seconds(self) -> float | None:
        return None if self.max_runtime is None else parse_duration(self.max_runtime)

    @property
    def trial_timeout_seconds(self) -> float | None:
        return None if self.trial_timeout is None else parse_duration(self.trial_timeout)

    @property
    def pending_timeout_seconds(self) -> float | None:
        return None if self.pending_timeout is None else parse_duration(self.pending_timeout)

    @property
    def queue_timeout_seconds(self) -> float | None:
        return None if self.queue_timeout is None else parse_duration(self.queue_timeout)
