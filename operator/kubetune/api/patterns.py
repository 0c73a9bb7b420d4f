"""User-written metric regexes, compiled with RE2: linear time whatever the pattern or the line.

A metrics definition is untrusted text matched against untrusted output. Python's ``re``
backtracks: ``^(a+)+$`` against a 49-character line runs for minutes while holding the GIL, and
every other TuningJob of the operator stalls with it. RE2 (Google's engine, the ``google-re2``
wheel) compiles a pattern to an automaton and matches in time linear in the line, releasing the
GIL while it does. Measured on this project's machine (`bench/results.md`, "User regexes"): a
16 KiB adversarial line in 0.17 ms with another thread running at full speed beside it.

The alternative, the ``regex`` module's ``timeout=``, was measured too and not chosen: its
deadline is wall-clock, so one log could parse differently on a loaded operator; it overshoots
(a 0.2 s timeout returned after 0.42 s), and a trial with many lines could still burn its
timeout on each one. The price of RE2 is its syntax: no backreferences and no lookaround, which
metric patterns do not need; such a pattern is rejected when the TuningJob is validated, with a
message naming the field.
"""

from __future__ import annotations

import re2

# RE2's memory budget for one compiled pattern; a pattern needing more is rejected up front.
MAX_PROGRAM_BYTES = 8 << 20


class PatternError(ValueError):
    """The pattern is not one RE2 accepts; the message says why."""


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_BYTES
    options.log_errors = False  # the error goes into a field message, not to stderr
    return options


def compile_metric_regex(pattern: str) -> re2._Regexp[str]:
    """The compiled pattern; raises ``PatternError`` with RE2's reason."""
    try:
        return re2.compile(pattern, _options())
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise PatternError(f"{reason} (RE2 syntax: no backreferences or lookaround)") from None
