"""Moved to :mod:`kubetune.names`; kept only for the runtime modules that still import it here
(they move to ``kubetune.names`` as they are split). Delete once nothing imports it."""

from kubetune.names import trial_name

__all__ = ["trial_name"]
