"""Every name kubetune puts on the cluster: API group and version, labels, annotations.

One place for them, and one function that shortens a name to fit Kubernetes' limits, so that a
TuningJob's label value is the same on its trial Jobs, its pods and its study journal.
"""

from __future__ import annotations

import hashlib
from typing import Final

API_GROUP: Final = "kubetune.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{API_GROUP}/{VERSION}"
KIND: Final = "TuningJob"
PLURAL: Final = "tuningjobs"
SINGULAR: Final = "tuningjob"
SHORT_NAMES: Final = ("tj",)
CRD_NAME: Final = f"{PLURAL}.{API_GROUP}"

LABEL_TUNINGJOB: Final = f"{API_GROUP}/tuningjob"
"""On trial Jobs, their pods and journal chunks: the TuningJob's name, shortened by `shorten`."""
LABEL_TRIAL: Final = f"{API_GROUP}/trial"
"""On trial Jobs and their pods: the trial number."""
LABEL_COMPONENT: Final = f"{API_GROUP}/component"
LABEL_CHUNK: Final = f"{API_GROUP}/study-chunk"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "kubetune"

ANNOTATION_PARAMETERS: Final = f"{API_GROUP}/parameters"
ANNOTATION_TUNINGJOB: Final = f"{API_GROUP}/tuningjob-name"
ANNOTATION_SEALED: Final = f"{API_GROUP}/study-chunk-sealed"
ANNOTATION_FORMAT: Final = f"{API_GROUP}/journal-format"
FINALIZER: Final = f"{API_GROUP}/finalizer"

MAX_LABEL_LENGTH: Final = 63
"""Label values, and Job names (they end up in the ``batch.kubernetes.io/job-name`` label)."""
MAX_SUBDOMAIN_LENGTH: Final = 253
"""Names of ConfigMaps and other DNS-subdomain objects."""
_DIGEST_LENGTH: Final = 8


def shorten(name: str, suffix: str = "", limit: int = MAX_LABEL_LENGTH) -> str:
    """``name + suffix`` if it fits in ``limit`` characters, else ``name`` cut and given a stable
    hash of the whole ``name`` before ``suffix``: distinct long names stay distinct, and the same
    name always shortens the same way, whoever calls.
    """
    if len(name) + len(suffix) <= limit:
        return name + suffix
    digest = hashlib.sha256(name.encode()).hexdigest()[:_DIGEST_LENGTH]
    keep = limit - len(suffix) - len(digest) - 1
    return f"{name[:keep].rstrip('-._')}-{digest}{suffix}"


def tuningjob_label(tuningjob: str) -> str:
    """The ``kubetune.io/tuningjob`` label value of a TuningJob."""
    return shorten(tuningjob)


def trial_name(tuningjob: str, number: int) -> str:
    """A trial's (and its Job's) name, ``<tuningjob>-<number>``, at most 63 characters."""
    return shorten(tuningjob, f"-{number}")
