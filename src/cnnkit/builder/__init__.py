"""ModelBuilder: describe a small CNN in a few fluent calls, build it, save the description.

A builder holds *defaults* (batch norm, dropout, activation, pooling, ...) that apply to every
block, and a list of *layers* (``.conv(...)``, ``.residual(...)`` and ``.dense(...)`` calls) whose keyword overrides
win over the defaults. ``build()`` turns it into a plain :class:`ConvNet` (an ``nn.Sequential``
with ``features`` and ``head``) whose flatten size is computed, never hand-written.
``replace(**defaults)`` returns a modified copy, which is how diagnosis remedies such as
``{"builder": {"dropout": 0.25}}`` are applied; :data:`REPLACEABLE_SETTINGS` names every setting
it accepts.

One concept a module: ``model_builder`` (:class:`ModelBuilder` and its spec constants),
``convnet`` (:class:`ConvNet`), ``summary`` (the per-layer table) and ``presets``
(:func:`case_study`), ``sizing`` (the smallest input an architecture accepts).

Example:
    >>> from cnnkit import ModelBuilder
    >>> builder = ModelBuilder(3, 2, 224, batch_norm=False, dropout=0.0).conv(4).conv(8)
    >>> sum(p.numel() for p in builder.build().parameters())
    50586
"""

from __future__ import annotations

from cnnkit.builder.convnet import ConvNet
from cnnkit.builder.model_builder import ModelBuilder
from cnnkit.builder.presets import CASE_STUDY_VARIANTS, case_study
from cnnkit.builder.settings import (
    CONV_OVERRIDES,
    DEFAULTS,
    DENSE_OVERRIDES,
    HEADS,
    REPLACEABLE_SETTINGS,
    RESIDUAL_OVERRIDES,
    SPEC_VERSION,
)

__all__ = [
    "CASE_STUDY_VARIANTS",
    "CONV_OVERRIDES",
    "DEFAULTS",
    "DENSE_OVERRIDES",
    "HEADS",
    "REPLACEABLE_SETTINGS",
    "RESIDUAL_OVERRIDES",
    "SPEC_VERSION",
    "ConvNet",
    "ModelBuilder",
    "case_study",
]
