"""Fitted scikit-learn ensembles evaluated for a handful of rows at a time.

scikit-learn predicts tree by tree in Python (and starts OpenMP threads for it): a few
milliseconds for a single ticket, which is C3's usual batch. These evaluate the same fitted
trees (numeric splits, no missing values: our features never are) for all trees at once with
numpy, level by level: tens of microseconds per ticket. The tests check they give scikit-learn's
own answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, IsolationForest


@dataclass
class _Forest:
    feature: np.ndarray  # [trees, nodes] feature index per node (into the full row)
    threshold: np.ndarray  # [trees, nodes] go left when x <= threshold
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray  # [trees, nodes] bool
    value: np.ndarray  # [trees, nodes] leaf value

    def leaves(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Leaf index and depth per (row, tree)."""
        rows, trees = x.shape[0], self.feature.shape[0]
        node = np.zeros((rows, trees), dtype=np.intp)
        depth = np.zeros((rows, trees), dtype=np.intp)
        tree = np.arange(trees)[None, :]
        row = np.arange(rows)[:, None]
        while True:
            done = self.leaf[tree, node]
            if done.all():
                return node, depth
            values = x[row, self.feature[tree, node]]
            go_left = values <= self.threshold[tree, node]
            step = np.where(go_left, self.left[tree, node], self.right[tree, node])
            node = np.where(done, node, step)
            depth += ~done


def _pad(arrays: list[np.ndarray], fill: float | int, dtype: type) -> np.ndarray:
    out: np.ndarray = np.full((len(arrays), max(len(a) for a in arrays)), fill, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out


class FastRegressor:
    """A fitted HistGradientBoostingRegressor (squared error, no categorical features)."""

    def __init__(self, model: HistGradientBoostingRegressor) -> None:
        nodes = [predictors[0].nodes for predictors in model._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise ValueError("categorical splits are not supported")
        self._forest = _Forest(
            _pad([n["feature_idx"] for n in nodes], 0, np.intp),
            _pad([n["num_threshold"] for n in nodes], 0.0, np.float64),
            _pad([n["left"] for n in nodes], 0, np.intp),
            _pad([n["right"] for n in nodes], 0, np.intp),
            _pad([n["is_leaf"] for n in nodes], 1, np.bool_),
            _pad([n["value"] for n in nodes], 0.0, np.float64),
        )
        self._baseline = float(np.asarray(model._baseline_prediction).ravel()[0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        node, _ = self._forest.leaves(x)
        trees = np.arange(node.shape[1])[None, :]
        out: np.ndarray = self._baseline + self._forest.value[trees, node].sum(axis=1)
        return out


def average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected path length of an unsuccessful search in a binary tree of n points (the
    isolation forest paper's c(n))."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class FastIsolation:
    """A fitted IsolationForest's ``score_samples``."""

    def __init__(self, model: IsolationForest) -> None:
        trees = [e.tree_ for e in model.estimators_]
        features = model.estimators_features_
        self._forest = _Forest(
            _pad(
                [f[np.maximum(t.feature, 0)] for t, f in zip(trees, features, strict=True)],
                0,
                np.intp,
            ),
            _pad([t.threshold for t in trees], 0.0, np.float64),
            _pad([t.children_left for t in trees], 0, np.intp),
            _pad([t.children_right for t in trees], 0, np.intp),
            _pad([t.children_left == -1 for t in trees], 1, np.bool_),
            _pad([average_path_length(t.n_node_samples) for t in trees], 0.0, np.float64),
        )
        self._norm = len(trees) * float(average_path_length(np.array([model.max_samples_]))[0])

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        # The trees were grown on float32 copies of the rows: compare the same values.
        node, depth = self._forest.leaves(x.astype(np.float32).astype(np.float64))
        trees = np.arange(node.shape[1])[None, :]
        total = (depth + self._forest.value[trees, node]).sum(axis=1)
        out: np.ndarray = -(2.0 ** (-total / self._norm))
        return out
