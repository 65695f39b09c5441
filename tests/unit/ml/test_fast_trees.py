"""The vectorised evaluation of fitted ensembles gives scikit-learn's own answers."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, IsolationForest

from orchestrator_dynamic.services.ml.fast_trees import (
    FastIsolation,
    FastRegressor,
    average_path_length,
)


def test_regressor_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = x[:, 0] * 3 + np.sin(x[:, 1]) + (x[:, 2] > 0) * 2 + rng.normal(scale=0.1, size=400)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x, y)
    probe = rng.normal(size=(50, 6))
    np.testing.assert_allclose(
        FastRegressor(model).predict(probe), model.predict(probe), rtol=1e-10, atol=1e-10
    )
    one = probe[:1]
    np.testing.assert_allclose(FastRegressor(model).predict(one), model.predict(one))


def test_isolation_forest_matches_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(size=(500, 5)), rng.normal(loc=6, size=(10, 5))])
    model = IsolationForest(n_estimators=80, contamination=0.05, random_state=0).fit(x)
    probe = np.vstack([rng.normal(size=(40, 5)), rng.normal(loc=5, size=(5, 5))])
    np.testing.assert_allclose(
        FastIsolation(model).score_samples(probe), model.score_samples(probe), rtol=1e-10
    )


def test_average_path_length_known_values() -> None:
    values = average_path_length(np.array([0, 1, 2, 3, 256]))
    assert list(values[:3]) == [0.0, 0.0, 1.0]
    assert values[3] == 2 * (np.log(2) + np.euler_gamma) - 4 / 3
    assert 10.2 < values[4] < 10.3
