"""Training a forest's trees in separate pieces that join into the very forest one fit builds.

scikit-learn seeds tree ``i`` of a forest with the ``i``-th draw from the forest's
``random_state``; its ``warm_start`` mode skips the draws of trees it already has. Training
trees ``[start, stop)`` therefore means: pretend ``start`` trees exist, warm-start to ``stop``.
Pieces joined in order give predictions bit-identical to one ``fit`` (tested against one), and
the first ``n`` trees of a forest *are* the ``n``-tree forest of the same seed.

Used by the tree-level strategies; only built-in forest models qualify (``supports``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

from mlcpu.data.datasets import Dataset
from mlcpu.errors import InputError
from mlcpu.records import models
from mlcpu.records.config import TaskConfig
from mlcpu.training.folds import fit_rows

# Parameters that make a forest's result depend on more than its own trees.
_UNSPLITTABLE = ("oob_score", "warm_start")


def supports(config: TaskConfig) -> bool:
    """Whether ``config`` can be trained tree by tree with identical results."""
    params = config.param_dict
    return models.is_builtin(config.model) and not any(params.get(p) for p in _UNSPLITTABLE)


def check_supported(config: TaskConfig, strategy: str) -> None:
    if not supports(config):
        raise InputError(
            f"the {strategy} strategy trains forests tree by tree, which needs a built-in "
            f"forest model ({', '.join(models.BUILTIN_MODELS)}) without oob_score or "
            f"warm_start; got {config.label}"
        )


def fit_trees(config: TaskConfig, dataset: Dataset, seed: int, start: int, stop: int) -> Any:
    """A fitted forest holding exactly trees ``start .. stop-1`` of ``config``'s forest."""
    if not 0 <= start < stop <= config.n_estimators:
        raise ValueError(f"tree range [{start}, {stop}) is outside 0..{config.n_estimators}")
    forest = config.build(random_state=seed, n_jobs=1)
    forest.set_params(n_estimators=stop, warm_start=True)
    # Placeholders stand for the trees other pieces build; fit only counts them, to skip
    # their seeds, and then appends the new trees after them.
    forest.estimators_ = [None] * start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        forest.fit(*fit_rows(dataset, config))
    forest.estimators_ = forest.estimators_[start:]
    forest.set_params(n_estimators=stop - start, warm_start=False)
    return forest


def join(pieces: Sequence[Any]) -> Any:
    """One ordinary fitted forest from pieces given in tree order."""
    if not pieces:
        raise ValueError("no pieces to join")
    forest = copy.copy(pieces[0])
    forest.estimators_ = [tree for piece in pieces for tree in piece.estimators_]
    forest.n_estimators = len(forest.estimators_)
    return forest


def prefix(forest: Any, n_trees: int) -> Any:
    """The forest of the first ``n_trees`` trees: what a fit with ``n_estimators=n_trees`` gives."""
    if not 1 <= n_trees <= len(forest.estimators_):
        raise ValueError(f"cannot take {n_trees} trees of a {len(forest.estimators_)}-tree forest")
    smaller = copy.copy(forest)
    smaller.estimators_ = forest.estimators_[:n_trees]
    smaller.n_estimators = n_trees
    return smaller


def chunks(n_trees: int, size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``size`` trees covering ``0..n_trees``."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, got {size}")
    return [(start, min(start + size, n_trees)) for start in range(0, n_trees, size)]
