"""Every threshold of the diagnosis rules, with its rationale.

Each constant carries a ``#:`` comment saying which rule uses it and why it has this value. The
table in ``docs/diagnosis.md`` is generated from these comments at build time (the mkdocs hook
``docs/hooks/thresholds.py``), so the page cannot disagree with the code. In a comment, the first
sentence names the rule (the finding ``code`` in backticks) and the rest is the rationale;
constants of one rule follow each other, joined by "...".

Standard library only: no numpy, no torch.
"""

from __future__ import annotations

__all__ = [
    "ANNEALED_LR_FRACTION",
    "AT_CHANCE_SKILL",
    "DIVERGE_CHANCE_RATIO",
    "DIVERGE_ERRATIC_FRACTION",
    "DIVERGE_LOSS_RATIO",
    "DIVERGE_LOSS_RATIO_NO_ACC",
    "DIVERGE_RISE_FRACTION",
    "DIVERGE_SPIKE_RATIO",
    "FIRST_LOSS_CHANCE_RATIO",
    "GAP_LARGE_ACC",
    "GAP_LARGE_LOSS_RATIO",
    "GAP_MIN_MARGIN",
    "GRAD_EXPLODE_RATIO",
    "INFER_MAX_CLASSES",
    "LEAK_NEAR_PERFECT",
    "LEAK_VAL_ABOVE_TRAIN",
    "LEAK_VAL_ABOVE_TRAIN_REGULARIZED",
    "LR_STEP_FACTOR",
    "MAX_DROPOUT",
    "MAX_WEIGHT_DECAY",
    "MAX_WINDOW",
    "MIN_EPOCHS",
    "MIN_PROJECTED_ACC_GAIN",
    "MIN_WINDOW",
    "NOISE_FLOOR_REL",
    "OSCILLATION_EPOCHS",
    "OSCILLATION_GRAD_RATIO",
    "OSCILLATION_STEP_CV",
    "OVERFIT_ACC_DROP_SIGMAS",
    "OVERFIT_MIN_ACC_DROP",
    "OVERFIT_MIN_EPOCHS_AFTER_BEST",
    "OVERFIT_MIN_REL_RISE",
    "OVERFIT_MIN_TRAIN_DROP",
    "OVERFIT_RISE_SIGMAS",
    "OVERFIT_TRAIN_DROP_SIGMAS",
    "POOL_BORDERLINE",
    "POOL_MAX_PHI",
    "POOL_MIN_EPOCHS",
    "POOL_REF_FRACTION",
    "POOL_TAIL_FRACTION",
    "POOL_Z",
    "PRIORITY",
    "REPORT_REMEDIES",
    "RETRAIN_MIN_EPOCH",
    "SCHEDULE_EARLY_FRACTION",
    "SLOW_MIN_PROJECTED_GAIN",
    "SLOW_RATE_RATIO",
    "SLOW_TARGET_FACTOR",
    "SLOW_VAL_RATE_RATIO",
    "SLOW_VAL_REMAINING_GAIN",
    "SMOOTH_WIDTH",
    "STRONG_AUGMENT",
    "TREND_ALPHA",
    "TREND_MIN_SIGMAS",
    "TREND_WINDOW_FRACTION",
    "UNDERFIT_LOSS_FRACTION",
    "UNDERFIT_MAX_SKILL",
    "UNDERFIT_TARGET_MARGIN",
]

# ------------------------------------------------------------------------------------------------
# Definitions shared by every rule: epochs, windows, trends, noise, smoothing.
# ------------------------------------------------------------------------------------------------

#: Fewer finite epochs than this -> `inconclusive` (`too-few-epochs`), with the number still
#: needed. A Mann-Kendall test on 5 points reaches p < 0.05 only for a perfectly monotone series,
#: so 5 is the least that can show a trend at all.
MIN_EPOCHS = 5
#: Trailing window = this fraction of the run ("the end of the run"), clipped to
#: [`MIN_WINDOW`, `MAX_WINDOW`]. A third is long enough for the trend test to have power and short
#: enough to be "the end".
TREND_WINDOW_FRACTION = 1 / 3
#: Smallest trailing window (epochs): as `MIN_EPOCHS`.
MIN_WINDOW = 5
#: Largest trailing window (epochs). Keeps "the end" local on long runs and Theil-Sen cheap
#: (4,950 pairs); 50 lost power on 500-epoch runs with a slow decline (12 of 60 slow runs read as
#: healthy).
MAX_WINDOW = 100
#: One-sided significance level of the Mann-Kendall trend test. Conventional.
TREND_ALPHA = 0.05
#: A significant trend must also move at least this many noise units across the window. A 5 %
#: test on a flat noisy curve fires one time in twenty and a diagnosis runs several; real trends
#: move many noise units.
TREND_MIN_SIGMAS = 2.0
#: With `lr` logged, a change of the rate by at least this factor between two epochs is a
#: schedule step: the slow-convergence test looks only at the epochs since the last step, and
#: other trend windows never reach back past it. The drop a step causes is the schedule's doing,
#: and the loss then follows a new curve.
LR_STEP_FACTOR = 2.0
#: Noise floor, relative to the series' median magnitude. Noise-free synthetic curves would
#: otherwise have zero noise and turn every wiggle into "infinitely many noise units".
NOISE_FLOOR_REL = 1e-3
#: Width of the running median taken before a minimum or maximum (fixed: the fast implementation
#: is a median of three). One lucky epoch must not define the best validation loss: the minimum of
#: n noisy values is biased about 2 sigma low.
SMOOTH_WIDTH = 3

# ------------------------------------------------------------------------------------------------
# Overfitting.
# ------------------------------------------------------------------------------------------------

#: **overfitting** (`val-loss-rising`): the median validation loss over the epochs since its
#: smoothed minimum (at most one trailing window) is at least this many noise units above that
#: minimum ... A noise-level wiggle is about 1 sigma above the smoothed minimum; 3 sigma is a
#: clear rise.
OVERFIT_RISE_SIGMAS = 3.0
#: ... and at least this fraction above it ... A 3-sigma rise of a nearly noise-free curve can be
#: too small to matter.
OVERFIT_MIN_REL_RISE = 0.05
#: ... the minimum lies at least this many epochs before the end ("stayed there") ... One or two
#: bad epochs are not a trend.
OVERFIT_MIN_EPOCHS_AFTER_BEST = 3
#: ... and the training loss kept falling meanwhile: since the best epoch by at least this many of
#: its noise units ...
OVERFIT_TRAIN_DROP_SIGMAS = 2.0
#: ... and this fraction of its value at the best epoch. A validation loss that wanders up while
#: the training loss is flat is noise (validation noise is often autocorrelated, so noise units
#: understate it: with this condition, false alarms on converged runs with AR(1) validation noise
#: fell from 6.5 % to 0.5 % in a 200-run check); one that rises with the training loss is
#: instability, handled by `diverging`.
OVERFIT_MIN_TRAIN_DROP = 0.05
#: **overfitting** (`val-loss-held-up`, the pooled test; see `cnnkit.diagnosis.pooled`): the mean
#: validation loss over the epochs after its lowest window lies at least this many standard errors
#: above the mean of that window, after the autocorrelation and look-elsewhere corrections ...
#: Measured on a flat noisy validation loss with the training loss still falling (the
#: noisy-validation family without its rise, 600 draws, 12-50 epochs): 3 standard errors are
#: crossed by 1.3 % of them (the whole diagnosis calls 3 % overfitting, the end-point rule
#: included); the family with its rise of 2-4 noise units crosses it 70 % of the time (79 % with
#: the end-point rule). At 2.5 the family gains 4-8 points and the null's false alarms reach
#: 5.3 %: the ratio is about one for one, and false alarms are the costlier error.
POOL_Z = 3.0
#: ... the last this fraction of the run holds at least half of that rise, and the reference
#: window's middle epoch lies before it ... The issue's noisy runs hold their rise over the whole
#: last 40 %; a rise that came back down is not overfitting. A minimum inside the window that is
#: to hold the rise leaves a tail of a few epochs whose noise is read from a few more: allowing
#: it (windows ending up to 3 epochs before the end) tripled the pooled test's false alarms on
#: the flat null (4.0 % against 1.3 %) and caught nothing more.
POOL_TAIL_FRACTION = 0.4
#: ... the reference window is this fraction of the run (at least 3 and at most 8 epochs), taken
#: where its mean is lowest ... One epoch would be the biased-low minimum; a fifth of the run is
#: still short enough to sit inside the minimum's basin.
POOL_REF_FRACTION = 1 / 5
#: ... on runs of at least this many epochs ... A 40 % tail and a reference window both need
#: room; shorter runs are left to `val-loss-rising`.
POOL_MIN_EPOCHS = 10
#: ... the tail's lag-1 autocorrelation, used to inflate the variance of a mean by
#: (1 + phi) / (1 - phi), is clipped to at most this ... Beyond 0.8 a short tail cannot tell
#: autocorrelation from a trend, and the inflation (x9) would mute every rise.
POOL_MAX_PHI = 0.8
#: ... and, as for `val-loss-rising`, the last epochs lie `OVERFIT_MIN_REL_RISE` above the window
#: and the training loss kept falling. A pooled z within this many standard errors below
#: `POOL_Z` on a run that would otherwise be called healthy abstains: the label is
#: `inconclusive` (`val-loss-borderline`), with the epochs that would settle it. A guess either
#: way would be wrong about as often as right.
POOL_BORDERLINE = 1.0
#: **overfitting** (`val-acc-falling`): the same test on validation accuracy falling from its
#: smoothed maximum, by at least this many noise units ... Accuracy can degrade before the loss
#: does.
OVERFIT_ACC_DROP_SIGMAS = 3.0
#: ... and at least this much (absolute), while training accuracy rose by at least
#: max(its noise, half of this). Requiring training accuracy to rise separates overfitting from a
#: noisy plateau.
OVERFIT_MIN_ACC_DROP = 0.02
#: **overfitting** (`large-gap-val-stalled`): a train-minus-validation accuracy gap of at least
#: this (10 points) while validation shows no significant improvement over the window; with
#: validation still improving the same gap is only a warning (`large-gap`, no label). 87.8 % /
#: 69.7 % (the case-study baseline) is overfitting whether or not the validation loss has turned
#: yet; a gap that validation is still closing is not.
GAP_LARGE_ACC = 0.10
#: The same with the validation/training loss ratio when there are no accuracies. Loss ratios
#: swing more than accuracy gaps as the training loss nears zero, hence the wide margin.
GAP_LARGE_LOSS_RATIO = 2.0
#: ... and the gap (its median over the window when not widening) must clear the limit by this
#: many of its standard errors (its noise / sqrt(window)). A steady 6-10 point gap is healthy
#: (issue 13); without the margin, one 9.5-point gap in ten crossed 10 points by noise alone.
GAP_MIN_MARGIN = 2.0

# ------------------------------------------------------------------------------------------------
# Underfitting.
# ------------------------------------------------------------------------------------------------

#: **underfitting** (`low-train-accuracy`): training accuracy's skill over chance,
#: (acc - chance) / (1 - chance), below this (binary: under 75 %, 10 classes: under 55 %) while
#: neither it nor the loss still improves. "Well below what the task allows" without knowing the
#: task: less than halfway from chance to perfect on the training data itself.
UNDERFIT_MAX_SKILL = 0.5
#: With `target_accuracy`: training accuracy more than this below the target counts as low. The
#: target is what the task allows.
UNDERFIT_TARGET_MARGIN = 0.05
#: Accuracy "still improving" also needs its trailing trend to project at least this gain
#: (absolute) over as many epochs again as the run had. A significant but negligible creep is not
#: progress. `loss-still-falling` uses it too: a training loss that creeps while the accuracy
#: projects less than this and the validation loss does not fall is converged (issue 13: a
#: plateau at 80 % against a 95 % target was read as slow one time in twenty).
MIN_PROJECTED_ACC_GAIN = 0.02
#: **underfitting** (`high-loss`) without accuracies: a flat training loss still above this
#: fraction of the chance-level cross-entropy ln(C). The model has learnt little beyond the prior.
UNDERFIT_LOSS_FRACTION = 0.7

# ------------------------------------------------------------------------------------------------
# Slow convergence.
# ------------------------------------------------------------------------------------------------

#: **slow-converging** (`loss-still-falling`): a significant decrease of the training loss over
#: the window at a rate at least this fraction of its average rate over the run ... The ratio is 1
#: for a straight line and about 0.1 for an exponential that has converged; the boundary is near
#: time constant = run length / 3, where about 5 % of the reachable improvement is left.
SLOW_RATE_RATIO = 0.25
#: ... projecting at least this fraction of the current loss over as many epochs again. Ignores the
#: deterministic creep of a stuck model.
SLOW_MIN_PROJECTED_GAIN = 0.01
#: **slow-converging** (`loss-still-falling`, on the validation loss): when the training loss
#: shows no fall and the training accuracy is in the underfitting range, a significant fall of
#: the validation loss over the trailing window that holds over the last half of the run at a
#: fifth of `TREND_ALPHA`, and whose remaining
#: gain (its trailing rate times the time constant of its slow-down, at most the run's length)
#: is at least this fraction of its value, whatever its rate ratio. Underfitting or slow? The
#: loss trend is the evidence (issue 13): under heavy dropout the training loss is too noisy to
#: test while the validation loss falls fast, then slowly but steadily for tens of epochs; a
#: converged exponential has almost nothing left (its time constant is short).
SLOW_VAL_REMAINING_GAIN = 0.03
#: ... and, when the training accuracy is out of the underfitting range, a trailing rate of the
#: validation loss at least this fraction of its average rate over the run. An exponential
#: approach ends with a ratio of about 3 (n / tau) exp(-5 n / (6 tau)): 0.04 at a time constant of
#: a sixth of the run (converged: the healthy families), 0.26 at a third; 0.15 keeps a factor
#: two of margin over the converged case for the noise of the ratio. A slow, heavy-tailed fall
#: (heavy dropout: 0.19-0.24 on the real-run set) keeps a higher ratio.
SLOW_VAL_RATE_RATIO = 0.15
#: Advisory `schedule-annealed` instead of `loss-still-falling`: with `lr` logged, a last rate
#: at most this fraction of its peak means a schedule annealed the run, and a loss still falling
#: at the end is the annealing's doing, not slow convergence. Cosine and one-cycle schedules end
#: at 0-1 % of their peak; a constant rate is at 100 %.
ANNEALED_LR_FRACTION = 0.1
#: **slow-converging** (`schedule-in-progress`): with `lr` logged and varying, a run whose rate is
#: still warming up (the last epoch's rate is the run's highest, at least `LR_STEP_FACTOR` times
#: its first) or whose annealing has only begun (the rate fell from its peak and still falls, but
#: is at least this fraction of it) has not reached what its schedule was set up for: the loss
#: will keep falling as the rate anneals (the `annealed-healthy` family drops 30-50 % more), so
#: the run is neither converged nor underfitting. A cosine schedule stays above 75 % of its peak
#: for the first third of its annealing; a constant rate is no schedule.
SCHEDULE_EARLY_FRACTION = 0.75
#: **slow-converging** (`target-far`): with `target_accuracy`, reaching it at the current rate
#: would take more than this many times the epochs run so far. "Many times the epochs run".
SLOW_TARGET_FACTOR = 3.0

# ------------------------------------------------------------------------------------------------
# Divergence.
# ------------------------------------------------------------------------------------------------

#: **diverging** (`loss-explosion`): training loss at the end at least this many times its
#: first-epoch value with accuracy at chance ... A training loss that doubles while nothing is
#: learnt has left the basin.
DIVERGE_LOSS_RATIO = 2.0
#: ... or this many times when there is no accuracy to check. Without accuracy, demand more.
DIVERGE_LOSS_RATIO_NO_ACC = 5.0
#: **diverging** (`loss-far-above-chance`): the median training or validation loss over the
#: trailing window at least this many times the chance-level cross-entropy ln(C), whatever the
#: accuracy does. An untrained model sits at ln C; a finite run that stays ten times above it
#: predicts confidently wrong (issue 13: Adam at lr 1-3 with validation loss near 1000 and
#: accuracy at chance was read as underfitting or healthy).
DIVERGE_CHANCE_RATIO = 10.0
#: **diverging** (`loss-spike`): training loss peaked above this multiple of the chance-level
#: cross-entropy ln(C) and accuracy ended at chance. Cross-entropy that high means confident wrong
#: predictions: a blow-up the run never recovered from.
DIVERGE_SPIKE_RATIO = 10.0
#: **diverging** (`train-loss-rising`): a significant rise of the training loss over the window,
#: to at least this fraction (and 3 noise units) above its smoothed minimum. A training loss that
#: climbs is an optimization problem (too high a rate), never overfitting.
DIVERGE_RISE_FRACTION = 0.5
#: **diverging** (`train-loss-erratic`): epoch-to-epoch noise of the training loss at least this
#: fraction of its level over the window, in a run that has learnt little (training-accuracy skill
#: below `UNDERFIT_MAX_SKILL`, or without accuracy a loss above `UNDERFIT_LOSS_FRACTION` x ln C).
#: An epoch-mean training loss normally moves a few percent; near zero the relative jitter is
#: large but that run has learnt, hence the guard.
DIVERGE_ERRATIC_FRACTION = 0.25
#: Advisory `lr-too-high`: the training loss oscillates within epochs: over the last this many
#: epochs of `step_loss` (one entry per batch) ...
OSCILLATION_EPOCHS = 3
#: ... the batch losses' robust coefficient of variation (1.4826 x their median absolute
#: deviation from their epoch's median, over the median loss) is at least this ...
#: Sampling noise of a mini-batch mean loss is the per-image spread / sqrt(batch): about 0.1-0.3
#: of the level for batches of 32-256; a loss that swings by half its level from batch to batch
#: is the optimizer overshooting.
OSCILLATION_STEP_CV = 0.5
#: ... and the gradient norm (`grad_norm`, when logged) over the trailing window is at least this
#: many times its median over the first window. A rate that is too high makes the updates bounce
#: between the walls of the valley, and the gradients grow instead of settling; the remedy is a
#: rate 3-10x lower or gradient clipping.
OSCILLATION_GRAD_RATIO = 2.0
#: Advisory `first-loss-high`: with the class count known (`num_classes` or `chance_accuracy`),
#: a first-epoch training loss at least this many times the chance-level cross-entropy ln(C).
#: An untrained classifier with a sane initialization predicts near-uniformly and starts at
#: ln(C), and the first epoch's mean is at most that as it learns; three times it means
#: confidently wrong predictions from the start: the initialization scale, the labels or
#: targets (e.g. shifted by one, wrong loss), or unnormalized inputs.
FIRST_LOSS_CHANCE_RATIO = 3.0
#: Largest class count inferred from the first loss; a first loss above ln 1000 = 6.9 is a
#: blow-up, not a class count, and the smallest of the first three losses is used instead (then
#: the run's smallest loss, then 2 classes when every loss is above it). An untrained 1000-class
#: model starts near 6.9.
INFER_MAX_CLASSES = 1000
#: Accuracy "at chance": skill over chance at most this. Binary 55 %, 10 classes 19 %.
AT_CHANCE_SKILL = 0.1
#: Advisory `gradient-spike`: a gradient norm this many times its median epoch value is an
#: explosion; the remedy is clipping.
GRAD_EXPLODE_RATIO = 100.0


# ------------------------------------------------------------------------------------------------
# Leakage (advisory).
# ------------------------------------------------------------------------------------------------

#: Advisory `val-above-train`: validation accuracy above training accuracy over the trailing
#: window by at least this (its median, by `GAP_MIN_MARGIN` standard errors) when the run is known
#: to train without dropout or augmentation ... Without them, the two accuracies measure the same
#: model on draws of the same distribution, so validation cannot stay ahead by more than its
#: noise: a persistent lead means the validation set overlaps the training set or is easier.
LEAK_VAL_ABOVE_TRAIN = 0.05
#: ... or by this much when the run has (or may have: unknown) dropout or augmentation, which
#: lower the training accuracy as it is measured (in training mode, on augmented batches): heavy
#: dropout and augmentation explain up to 8-10 points (the real-run set: 8 points with dropout 0.3,
#: augmentation and weight decay), more than that they do not.
LEAK_VAL_ABOVE_TRAIN_REGULARIZED = 0.15
#: ... or a validation accuracy whose median over the trailing window is at least this while it
#: is at least the training accuracy: near-perfect validation on a task the model has not
#: mastered on its own training data is the signature of duplicated images or a label that leaks
#: into the input. Either way the remedy is `check_data(X, y, val=(X_val, y_val))`.
LEAK_NEAR_PERFECT = 0.995

# ------------------------------------------------------------------------------------------------
# Remedies: what is suggested, given what the run already had.
# ------------------------------------------------------------------------------------------------

#: Remedy `overfit_remedies`: dropout is raised by 0.25 a round up to this rate, and not
#: suggested at or above it. Beyond 0.5 a conv block loses more signal than it regularizes (the
#: case study's 0.5 already cost 14 points of training accuracy).
MAX_DROPOUT = 0.5
#: Remedy `overfit_remedies`: with augmentation already on, the stronger setting suggested,
#: `cnnkit.augment.default(strength=...)` (its range is 0-3). Twice the default magnitudes is
#: still label-preserving for natural photos.
STRONG_AUGMENT = 2.0
#: Remedy `overfit_remedies`: weight decay is raised 5x a round up to this, and not suggested
#: at or above it. Beyond 5e-3 (the usual range is 1e-4 to 1e-3) coupled L2 decay starts to cost
#: a small CNN its training accuracy.
MAX_WEIGHT_DECAY = 5e-3
#: Remedy `overfit_remedies`: a validation minimum before this epoch is "early": keeping the
#: best weights (`EarlyStopping(restore_best_weights=True)`) comes first, and retraining for that
#: few epochs is never suggested. A retrain of 1-4 epochs lands wherever its noise puts it; the
#: best weights are already known.
RETRAIN_MIN_EPOCH = 5

# ------------------------------------------------------------------------------------------------
# Report and label priority.
# ------------------------------------------------------------------------------------------------

#: Remedies shown per finding in `str(diagnosis)`. A short report; `to_dict()` and `.remedies`
#: keep all.
REPORT_REMEDIES = 3
#: Label priority, highest first: the label of a diagnosis is the first of these that a finding
#: of severity warning or error supports (`healthy` when none does). Applied in one place,
#: `cnnkit.diagnosis.rules.decide`.
PRIORITY: tuple[str, ...] = (
    "diverging",
    "inconclusive",
    "overfitting",
    "underfitting",
    "slow-converging",
    "healthy",
)
