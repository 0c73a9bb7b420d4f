"""The ``kubetune`` command line."""
