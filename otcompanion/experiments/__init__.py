"""Repeated experiments: the thesis grid of tasks x levels x repetitions, one module a chapter.

The thesis repeats every setup (two or three classes, difficulty levels 1-4) many times with
fresh data and a fresh model, and reports means and standard deviations (this book reports
means with 95 % intervals, :mod:`otcompanion.stats`). The runs of each chapter live in their
own module:

- :mod:`otcompanion.experiments.grid` (chapters 01-02): :data:`PROFILES` and
  :func:`resolve_profile`, the ``"book"`` and ``"thesis"`` scales; :func:`run_seed`, one seed
  per run from the chapter seed and the run's coordinates; :func:`traced_run`, the thesis
  Transformer trained, traced and measured once per build (the run cache of
  :mod:`otcompanion.engine`), with :func:`trace_transformer_run` and :func:`transformer_grid`;
  :func:`curve_steps` and :func:`reference_maps`; :func:`final_map_reading`,
  :func:`trajectory_reading` and :func:`optimizer_ablation_reading`, the chapter's claims read
  from its runs;
- :mod:`otcompanion.experiments.pretraining` (chapter 03): :func:`pretrained_head`,
  :func:`pretraining_run`, :func:`pretraining_grid`, :func:`budget_summaries`,
  :func:`pretraining_differences` and :func:`budget_verdicts`, the same runs with a
  pretrained, frozen head;
- :mod:`otcompanion.experiments.comparison` (chapter 04): :func:`classifier_comparison_run`,
  :func:`stopping_rule_run`, :func:`ot_classifier_run`, :func:`scaling_run` and
  :func:`scaling_exponents`, the OT classifier next to the Transformer (the values
  :data:`OT` and :data:`TRANSFORMER` of their ``model`` column), and
  :func:`ot_minus_transformer`, :func:`model_difference_table`, :func:`traced_epoch_ratio`,
  :func:`geometry_differences`, :func:`scaling_differences` and :func:`comparison_verdicts`,
  the chapter's summaries of them and its verdicts;
- :mod:`otcompanion.experiments.crossval` (chapter 05): :func:`cross_validate_models`, several
  classifiers on the same stratified repeated folds;
- :mod:`otcompanion.experiments.heads` (chapter 06): :func:`multihead_run`,
  :func:`multihead_jobs`, :func:`thesis_heads_run` and :func:`thesis_heads_jobs`, the sweeps
  over the number of attention heads (each run also trains the linearized model),
  :func:`pooling_baselines`, linear classifiers without attention on the same data,
  :data:`HEADS_PROFILES` and :func:`heads_profile`, the book and thesis scales, and
  :func:`chapter_comparisons` and :func:`holm_differences`, the chapter's family of paired
  comparisons at Holm-adjusted levels (:data:`DECISIVE`: those the verdict reads).

Every name is also available from this package (``otcompanion.experiments.transformer_grid``),
as it was when the experiments were one module; :func:`interval_outcome` and
:func:`combined_verdict` are :mod:`otcompanion.claims`'s, the home of every verdict.

Every grid function takes ``scheduler`` (:func:`otcompanion.engine.run_jobs`): ``"local"`` (all
cores of this machine), a number of worker processes, or a Dask scheduler address.
"""

from otcompanion import engine as engine
from otcompanion import metrics as metrics
from otcompanion import stats as stats
from otcompanion.attention import OPTIMIZERS as OPTIMIZERS
from otcompanion.attention import TRAJECTORY_STARTS as TRAJECTORY_STARTS
from otcompanion.attention import train_transformer as train_transformer
from otcompanion.claims import combined_verdict, interval_outcome
from otcompanion.data import thesis_split as thesis_split
from otcompanion.engine import run_jobs as run_jobs
from otcompanion.experiments.comparison import (
    OT,
    TRANSFORMER,
    VALIDATION_FRACTION,
    classifier_comparison_run,
    comparison_verdicts,
    epochs_to_target,
    geometry_differences,
    model_difference_table,
    ot_classifier_run,
    ot_minus_transformer,
    scaling_differences,
    scaling_exponents,
    scaling_run,
    stopping_rule_run,
    traced_epoch_ratio,
    validation_split,
)
from otcompanion.experiments.crossval import cross_validate_models
from otcompanion.experiments.grid import (
    PROFILES,
    REFERENCE_MAPS,
    TRAJECTORY_METRICS,
    curve_steps,
    final_map_reading,
    optimizer_ablation_reading,
    reference_maps,
    resolve_profile,
    run_seed,
    trace_transformer_run,
    traced_run,
    trajectory_reading,
    transformer_grid,
)

# The cached function itself: benchmarks and the run-cache tests look it up here.
from otcompanion.experiments.grid import _traced_run as _traced_run
from otcompanion.experiments.heads import (
    BASELINES,
    DECISIVE,
    HEADS_PROFILES,
    chapter_comparisons,
    heads_profile,
    holm_differences,
    multihead_jobs,
    multihead_run,
    pooling_baselines,
    thesis_heads_jobs,
    thesis_heads_run,
)
from otcompanion.experiments.pretraining import (
    HEAD_SHARING,
    budget_summaries,
    budget_verdicts,
    head_seed,
    pretrained_head,
    pretraining_differences,
    pretraining_grid,
    pretraining_run,
)

#: The public names of the package (documented on its API page), each defined in one of its
#: modules or, for the two verdict rules, in :mod:`otcompanion.claims`. The modules and
#: functions of other parts of the package that ``otcompanion.experiments`` also held when it
#: was one module (``engine``, ``metrics``, ``stats``, ``run_jobs``, ``train_transformer``,
#: ``thesis_split``, ``OPTIMIZERS``, ``TRAJECTORY_STARTS``) stay importable from here but are
#: documented in their own modules.
__all__ = [
    # grid (chapters 01-02)
    "PROFILES", "TRAJECTORY_METRICS", "REFERENCE_MAPS", "resolve_profile", "run_seed",
    "curve_steps", "reference_maps", "traced_run", "trace_transformer_run", "transformer_grid",
    "final_map_reading", "trajectory_reading", "optimizer_ablation_reading",
    # pretraining (chapter 03)
    "HEAD_SHARING", "head_seed", "pretrained_head", "pretraining_run", "pretraining_grid",
    "budget_summaries", "pretraining_differences", "budget_verdicts",
    # comparison (chapter 04)
    "VALIDATION_FRACTION", "validation_split", "epochs_to_target", "classifier_comparison_run",
    "stopping_rule_run", "ot_classifier_run", "scaling_run", "scaling_exponents",
    "OT", "TRANSFORMER", "ot_minus_transformer", "model_difference_table", "traced_epoch_ratio",
    "geometry_differences", "scaling_differences", "comparison_verdicts",
    "interval_outcome", "combined_verdict",
    # crossval (chapter 05)
    "cross_validate_models",
    # heads (chapter 06)
    "multihead_jobs", "multihead_run", "thesis_heads_jobs", "thesis_heads_run",
    "BASELINES", "pooling_baselines", "HEADS_PROFILES", "heads_profile", "DECISIVE",
    "chapter_comparisons", "holm_differences",
]
