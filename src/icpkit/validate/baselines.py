"""Challenger models a readable scorecard is measured against, fitted on the same split.

They are challengers only: their libraries are imported here, lazily, and the scoring path
never imports this module. A missing library gives a skipped baseline that says so.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from icpkit.analysis.deals import DealMatrix

INSTALL = "pip install 'icpkit[challengers]'"


@dataclass(frozen=True)
class Baseline:
    """A challenger's win probabilities on the test deals (None: skipped, see ``note``)."""

    name: str
    probabilities: np.ndarray | None
    seconds: float = 0.0
    note: str = ""


def _encoded(
    train: DealMatrix, test: DealMatrix, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes per attribute, levels from the training deals (unseen in test: -1)."""
    train_cols, test_cols = [], []
    for name in names:
        codes, levels = train.codes(name)
        train_cols.append(codes)
        test_cols.append(test.codes(name, levels)[0])
    return np.column_stack(train_cols), np.column_stack(test_cols)


def gbm_baseline(train: DealMatrix, test: DealMatrix, *, seed: int = 0) -> Baseline:
    """Gradient boosting on every attribute as a category: LightGBM when installed, else
    scikit-learn's HistGradientBoosting; rounds chosen by early stopping."""
    started = time.perf_counter()
    names = list(train.columns)
    x_train, x_test = _encoded(train, test, names)
    try:
        import lightgbm as lgb
    except ImportError:
        lgb = None  # type: ignore[assignment]
    if lgb is not None:
        model = lgb.LGBMClassifier(
            n_estimators=2000,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=seed,
            n_jobs=2,
            verbose=-1,
        )
        rng = np.random.default_rng(seed)
        accounts = np.unique(train.account_keys)
        held = np.isin(train.account_keys, rng.choice(accounts, len(accounts) // 5, replace=False))
        x_tr, x_te = np.where(x_train < 0, np.nan, x_train), np.where(x_test < 0, np.nan, x_test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # eval_set is renamed in newer LightGBM
            model.fit(
                x_tr[~held],
                train.won[~held],
                eval_set=[(x_tr[held], train.won[held])],
                categorical_feature=list(range(len(names))),
                callbacks=[lgb.early_stopping(50, verbose=False)],
            )
        p = np.asarray(model.predict_proba(x_te))[:, 1]
        return Baseline("LightGBM (all attributes)", p, time.perf_counter() - started)
    from sklearn.ensemble import HistGradientBoostingClassifier

    offset = 1  # unseen categories (-1) become their own code 0
    hgb = HistGradientBoostingClassifier(
        categorical_features=list(range(len(names))),
        early_stopping=True,
        random_state=seed,
        max_leaf_nodes=15,
        learning_rate=0.05,
        max_iter=1000,
    )
    hgb.fit(x_train + offset, train.won)
    p = hgb.predict_proba(np.clip(x_test + offset, 0, None))[:, 1]
    return Baseline("HistGradientBoosting (all attributes)", p, time.perf_counter() - started)


def logistic_baseline(
    train: DealMatrix, test: DealMatrix, columns: list[str] | None = None, *, name: str
) -> Baseline:
    """One-hot encoded attributes in an L2 logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    started = time.perf_counter()
    names = columns if columns is not None else list(train.columns)
    if not names:
        return Baseline(name, None, note="no attributes of that kind")
    x_train = np.column_stack([train.columns[n] for n in names])
    x_test = np.column_stack([test.columns[n] for n in names])
    encoder = OneHotEncoder(handle_unknown="ignore")
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(encoder.fit_transform(x_train), train.won)
    p = model.predict_proba(encoder.transform(x_test))[:, 1]
    return Baseline(name, p, time.perf_counter() - started)


def optbinning_baseline(train: DealMatrix, test: DealMatrix) -> Baseline:
    """optbinning's binning process (optimal bins, weight of evidence) and a logistic
    regression on the WoE values: the classic credit-style scorecard."""
    try:
        import pandas as pd
        from optbinning import BinningProcess
    except ImportError:
        return Baseline(
            "optbinning scorecard", None, note=f"optbinning is not installed: {INSTALL}"
        )
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    names = list(train.columns)
    ordinal = {a.name for a in train.attributes if a.kind == "ordinal"}
    frames = []
    for matrix in (train, test):
        data = {}
        for i, n in enumerate(names):
            if n in ordinal:
                codes, _ = matrix.codes(n, train.codes(n)[1])
                data[f"x{i}"] = np.where(codes < 0, np.nan, codes).astype(float)
            else:
                data[f"x{i}"] = matrix.columns[n]
        frames.append(pd.DataFrame(data))
    categorical = [f"x{i}" for i, n in enumerate(names) if n not in ordinal]
    process = BinningProcess(
        variable_names=[f"x{i}" for i in range(len(names))],
        categorical_variables=categorical,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning's pandas deprecation noise
        process.fit(frames[0], train.won)
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(process.transform(frames[0], metric="woe"), train.won)
        p = model.predict_proba(process.transform(frames[1], metric="woe"))[:, 1]
    return Baseline("optbinning scorecard", p, time.perf_counter() - started)
