"""The generated parts of ``docs/``: ``python -m dev.docs`` writes them, ``--check`` compares.

Each generated document is rendered from its single source of truth: the TuningJob reference
from the committed CRD's descriptions, the CLI and operator-flag references from the click
command tree, the Helm values table from ``values.yaml``'s ``# --`` comments.
"""
