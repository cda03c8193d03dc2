"""Data sanity checks: :func:`check_data` (compatibility module).

``check_data`` and its thresholds live in :mod:`cnnkit.diagnosis.data_checks`; this module keeps
``from cnnkit.checks import check_data`` working. numpy only.
"""

from cnnkit.diagnosis.data_checks import (
    CORRELATION_CROP,
    CORRELATION_SAMPLE,
    IMAGE_CHANNELS,
    IMBALANCE_RATIO,
    NATURAL_MIN_CORRELATION,
    SCRAMBLE_MIN_GAIN,
    SMALL_DATA_PER_CLASS,
    UNNORMALIZED_MAX,
    check_data,
)

__all__ = [
    "CORRELATION_CROP",
    "CORRELATION_SAMPLE",
    "IMAGE_CHANNELS",
    "IMBALANCE_RATIO",
    "NATURAL_MIN_CORRELATION",
    "SCRAMBLE_MIN_GAIN",
    "SMALL_DATA_PER_CLASS",
    "UNNORMALIZED_MAX",
    "check_data",
]
