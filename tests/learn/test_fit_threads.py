"""The joint model's fits run BLAS on one thread, and the limit ends with them."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from icpkit.learn.fit import one_blas_thread


def _blas_threads() -> list[int]:
    return [int(p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas"]


def test_blas_runs_on_one_thread_inside_and_as_before_after() -> None:
    import scipy.optimize  # noqa: F401  (loads the BLAS the fits use)

    before = _blas_threads()
    with one_blas_thread():
        assert _blas_threads() and set(_blas_threads()) == {1}
    assert _blas_threads() == before
