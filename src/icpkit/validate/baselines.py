"""Challenger models a readable scorecard is measured against, fitted on the same time split.

Challengers only: their libraries (LightGBM, optbinning, pandas, even scikit-learn) are
imported lazily inside the functions, and a missing one gives a skipped baseline saying so.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from icpkit.analysis.deals import DealMatrix
from icpkit.attributes import MISSING

if TYPE_CHECKING:
    from scipy import sparse

INSTALL = "pip install 'icpkit[challengers]'"
MAX_ROUNDS = 1000
PATIENCE = 50
THREADED_CELLS = 2_500_000  # deals x attributes: 44,000 deals of the demo, 2,500 at 1,000
HGB_MAX_CATEGORIES = 254  # scikit-learn bins a categorical feature into at most 255 codes


@dataclass(frozen=True)
class Baseline:
    """A challenger's win probabilities on the test deals, in their row order (None: skipped,
    ``note`` says why), and the seconds its fit and prediction took."""

    name: str
    probabilities: np.ndarray | None
    note: str = ""
    seconds: float = 0.0


def gbm_baseline(train: DealMatrix, test: DealMatrix, *, seed: int = 0) -> Baseline:
    """Gradient boosting on every attribute as a category: LightGBM when installed, else
    scikit-learn's HistGradientBoosting; rounds chosen by early stopping on a fifth of the
    training accounts, then refitted on all training deals."""
    try:
        import lightgbm
    except (ImportError, OSError):  # OSError: installed without its OpenMP runtime
        return _hist_gbm(train, test, seed)
    name = "LightGBM (all attributes)"
    skip = _cannot_fit(name, train, list(train.columns))
    if skip is not None:
        return skip
    started = time.perf_counter()
    x_train, x_test = _category_codes(train, test, list(train.columns))
    held = _held_accounts(train, seed)
    params: dict[str, Any] = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": _threads(train),
        "verbose": -1,
    }
    categorical = list(range(x_train.shape[1]))
    rounds = 100
    if held is not None:
        fit = lightgbm.Dataset(
            x_train[~held], train.won[~held], categorical_feature=categorical, params=params
        )
        valid = fit.create_valid(x_train[held], train.won[held])
        booster = lightgbm.train(
            params,
            fit,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid],
            callbacks=[lightgbm.early_stopping(PATIENCE, verbose=False)],
        )
        rounds = max(int(booster.best_iteration), 1)
    data = lightgbm.Dataset(x_train, train.won, categorical_feature=categorical, params=params)
    booster = lightgbm.train(params, data, num_boost_round=rounds)
    p = np.asarray(booster.predict(x_test), dtype=np.float64)
    note = f"{rounds} trees"
    return Baseline(name, p, note, time.perf_counter() - started)


def _hist_gbm(train: DealMatrix, test: DealMatrix, seed: int) -> Baseline:
    """scikit-learn's histogram gradient boosting, the fallback when LightGBM is missing."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    name = "HistGradientBoosting (all attributes)"
    skip = _cannot_fit(name, train, list(train.columns))
    if skip is not None:
        return skip
    started = time.perf_counter()
    x_train, x_test = _category_codes(train, test, list(train.columns), HGB_MAX_CATEGORIES)

    def model(**kwargs: Any) -> Any:
        return HistGradientBoostingClassifier(
            categorical_features=list(range(x_train.shape[1])),
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            random_state=seed,
            **kwargs,
        )

    held = _held_accounts(train, seed)
    rounds = 100
    grouped = "X_val" in inspect.signature(HistGradientBoostingClassifier.fit).parameters
    with threadpool_limits(limits=_threads(train), user_api="openmp"):
        if held is not None and grouped:
            first = model(max_iter=MAX_ROUNDS, early_stopping=True, n_iter_no_change=PATIENCE)
            first.fit(x_train[~held], train.won[~held], X_val=x_train[held], y_val=train.won[held])
            rounds = int(first.n_iter_)
        elif held is not None:  # scikit-learn < 1.6 holds out a random fifth of deals itself
            first = model(
                max_iter=MAX_ROUNDS,
                early_stopping=True,
                n_iter_no_change=PATIENCE,
                validation_fraction=0.2,
            )
            first.fit(x_train, train.won)
            rounds = int(first.n_iter_)
        final = model(max_iter=max(rounds, 1), early_stopping=False)
        final.fit(x_train, train.won)
        p = np.asarray(final.predict_proba(x_test), dtype=np.float64)[:, 1]
    note = f"{rounds} trees; LightGBM is not installed: {INSTALL}"
    return Baseline(name, p, note, time.perf_counter() - started)


def optbinning_baseline(train: DealMatrix, test: DealMatrix) -> Baseline:
    """optbinning's classic credit scorecard: optimal bins per attribute (monotone over the
    order of ordinal ones), their weight of evidence, and a logistic regression on it."""
    name = "optbinning scorecard"
    try:
        import pandas as pd
        from optbinning import BinningProcess, Scorecard
    except ImportError as exc:
        missing = exc.name or "optbinning"
        return Baseline(name, None, f"{missing} is not installed: {INSTALL}")
    from sklearn.linear_model import LogisticRegression

    names = list(train.columns)
    skip = _cannot_fit(name, train, names)
    if skip is not None:
        return skip
    started = time.perf_counter()
    variables = [f"x{i}" for i in range(len(names))]
    ordinal = {a.name for a in train.attributes if a.kind == "ordinal"}
    frames = []
    for matrix in (train, test):
        data: dict[str, np.ndarray] = {}
        for variable, column in zip(variables, names, strict=True):
            if column in ordinal:
                # Codes in the attribute's order; '(missing)' and unseen values are missing.
                levels = [v for v in train.levels(column) if v != MISSING]
                codes = matrix.codes(column, levels)[0]
                data[variable] = np.where(codes < 0, np.nan, codes.astype(np.float64))
            else:
                # As object columns, not pandas' own text type, which optbinning's steps
                # convert back and forth column by column: a quarter of its time, same bins.
                data[variable] = pd.Series(matrix.columns[column], dtype=object)
        frames.append(pd.DataFrame(data))
    categorical = [v for v, c in zip(variables, names, strict=True) if c not in ordinal]
    process = BinningProcess(
        variable_names=variables,
        n_jobs=_threads(train),  # threads, each binning its own variables
        categorical_variables=categorical,
        binning_fit_params={
            v: {"monotonic_trend": "auto_asc_desc"}
            for v, c in zip(variables, names, strict=True)
            if c in ordinal
        },
    )
    card = Scorecard(binning_process=process, estimator=LogisticRegression(C=1.0, max_iter=1000))
    with _quiet():
        card.fit(frames[0], train.won)
        p = np.asarray(card.predict_proba(frames[1]), dtype=np.float64)[:, 1]
    return Baseline(name, p, "", time.perf_counter() - started)


def logistic_baseline(
    train: DealMatrix, test: DealMatrix, columns: list[str] | None = None, *, name: str
) -> Baseline:
    """One-hot encoded attributes (all, or ``columns``) in an L2 logistic regression; values
    unseen in training encode as all zeros."""
    from sklearn.linear_model import LogisticRegression

    names = list(train.columns) if columns is None else list(columns)
    skip = _cannot_fit(name, train, names)
    if skip is not None:
        return skip
    started = time.perf_counter()
    x_train, x_test = _one_hot(train, test, names)
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(x_train, train.won)
    p = np.asarray(model.predict_proba(x_test), dtype=np.float64)[:, 1]
    return Baseline(name, p, "", time.perf_counter() - started)


def fit_safely(name: str, fit: Callable[[], Baseline]) -> Baseline:
    """Run a challenger's ``fit``; one that raises gives a baseline without probabilities
    whose note says 'could not fit: <reason>', so the backtest goes on without it."""
    try:
        baseline = fit()
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Baseline(name, None, f"could not fit: {reason}")
    if baseline.probabilities is not None:
        p = baseline.probabilities
        if not np.isfinite(p).all():
            return Baseline(baseline.name, None, "could not fit: it predicted non-numbers")
        return baseline
    note = baseline.note
    if not note.startswith(("could not fit", "skipped")):
        note = f"could not fit: {note}" if "not installed" not in note else f"skipped: {note}"
    return Baseline(baseline.name, None, note)


def informative(train: DealMatrix) -> tuple[DealMatrix, list[str]]:
    """``train`` without the attributes that hold one value in every deal (all missing, or
    constant), and the names of those dropped."""
    keep: list[str] = []
    dropped: list[str] = []
    for name in train.columns:
        codes, _ = train.codes(name)
        (keep if np.unique(codes).size > 1 else dropped).append(name)
    return keep_columns(train, keep), dropped


def keep_columns(matrix: DealMatrix, names: list[str]) -> DealMatrix:
    """``matrix`` with only the attribute columns ``names``, in their order."""
    wanted = set(names)
    return replace(
        matrix,
        columns={n: v for n, v in matrix.columns.items() if n in wanted},
        attributes=[a for a in matrix.attributes if a.name in wanted],
    )


def _threads(train: DealMatrix) -> int:
    """Threads for a challenger's fit: two pay only on big data, many deals or many attributes
    (a boosting round's work grows with both); on small data two threads contending with
    other work spin-wait and can take a hundred times longer."""
    return 2 if len(train) * len(train.columns) >= THREADED_CELLS else 1


def _cannot_fit(name: str, train: DealMatrix, columns: list[str]) -> Baseline | None:
    """A skipped baseline when the training deals cannot fit a model, else None."""
    if not columns:
        return Baseline(name, None, "no attributes to fit on")
    won = int(train.won.sum())
    if won == 0 or won == len(train):
        return Baseline(name, None, "the training deals are all won or all lost")
    return None


def _category_codes(
    train: DealMatrix, test: DealMatrix, names: list[str], limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Category codes per attribute as floats, levels from the training deals; a value unseen
    in training (or beyond the ``limit`` most frequent) is NaN, which boosting reads as
    missing."""
    x_train = np.empty((len(train), len(names)), dtype=np.float64)
    x_test = np.empty((len(test), len(names)), dtype=np.float64)
    for j, column in enumerate(names):
        codes, levels = train.codes(column)
        if limit is not None and len(levels) > limit:
            counts = np.bincount(codes[codes >= 0], minlength=len(levels))
            keep = sorted(np.argsort(-counts, kind="stable")[:limit].tolist())
            levels = [levels[i] for i in keep]
            codes = train.codes(column, levels)[0]
        x_train[:, j] = np.where(codes < 0, np.nan, codes)
        test_codes = test.codes(column, levels)[0]
        x_test[:, j] = np.where(test_codes < 0, np.nan, test_codes)
    return x_train, x_test


def _one_hot(
    train: DealMatrix, test: DealMatrix, names: list[str]
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """The attributes ``names`` one-hot encoded as scikit-learn's ``OneHotEncoder(
    handle_unknown="ignore")`` encodes them (a column per value seen in training, sorted;
    an unseen value all zeros), built from the matrices' codes: the encoder looks every
    cell up in Python, 5 of a 14 s fit at a thousand attributes."""
    offset = 0
    train_columns: list[np.ndarray] = []
    test_columns: list[np.ndarray] = []
    for name in names:
        codes, levels = train.codes(name)  # an ordinal's levels list values unseen too
        seen = sorted(levels[i] for i in np.unique(codes).tolist())
        train_columns.append(train.codes(name, seen)[0] + offset)
        test_codes = test.codes(name, seen)[0]
        test_columns.append(np.where(test_codes < 0, -1, test_codes + offset))
        offset += len(seen)
    return _csr(train_columns, offset), _csr(test_columns, offset)


def _csr(columns: list[np.ndarray], width: int) -> sparse.csr_matrix:
    """A 0/1 matrix of ``width`` columns with a one, per row, at each of ``columns``' entries
    for that row (-1: none); each row's entries ascend, as the encoder writes them."""
    from scipy import sparse

    cells = np.column_stack(columns)
    present = cells >= 0
    indptr = np.concatenate([[0], np.cumsum(present.sum(axis=1))])
    indices = cells[present]  # row by row, in column order
    data = np.ones(indices.size, dtype=np.float64)
    return sparse.csr_matrix((data, indices, indptr), shape=(cells.shape[0], width))


def _held_accounts(train: DealMatrix, seed: int) -> np.ndarray | None:
    """A mask of the deals of a random fifth of the training accounts, for early stopping;
    None when either part would miss a class."""
    accounts = np.unique(train.account_keys.astype(str))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(accounts, size=max(len(accounts) // 5, 1), replace=False)
    held = np.isin(train.account_keys.astype(str), chosen)
    for part in (train.won[held], train.won[~held]):
        if part.size == 0 or part.min() == part.max():
            return None
    return held


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence a challenger library's printing and warnings."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield
