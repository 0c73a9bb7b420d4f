"""``python -m kubetune.cli``: the same as the ``kubetune`` command."""

from kubetune.cli.main import main

main()
