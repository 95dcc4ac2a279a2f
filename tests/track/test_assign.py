"""The sparse assignment kernel (``assign`` stem: ext/_assign.pxi, xband.reference.assign)
against brute-force enumeration, scipy's linear_sum_assignment on [C | diag(miss)], and
its twin, on random sparse problems of many shapes and on edge cases."""
import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from xband import _kernels

pytestmark = pytest.mark.reference_rerun


def csr(cost, listed=None):
    """CSR of the listed cells of a dense (n, k) cost (default: every cell that is not
    +inf; NaN and −inf cells stay listed, to be skipped by the solver)."""
    n, k = cost.shape
    if listed is None:
        listed = ~np.isposinf(cost)
    ti, dj = np.nonzero(listed)
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ti, minlength=n), out=row_ptr[1:])
    return row_ptr, np.ascontiguousarray(dj, np.int64), np.ascontiguousarray(cost[ti, dj])


def solve(cost, miss, listed=None):
    n, k = cost.shape
    row_ptr, cols, cv = csr(cost, listed)
    out = np.full(n, -7, np.int64)
    na = _kernels.get("assign").assign_sparse(row_ptr, cols, cv, np.asarray(miss, float), k,
                                              out)
    assert na == np.count_nonzero(out >= 0)
    assert np.all((out >= -1) & (out < k))
    return out


def usable(cost, miss):
    with np.errstate(invalid="ignore"):
        return np.isfinite(cost) & (cost < np.asarray(miss)[:, None])


def total(cost, miss, out):
    """Objective of an assignment, checking that it is one-to-one over usable pairs."""
    r = np.flatnonzero(out >= 0)
    c = out[r]
    assert len(set(c.tolist())) == c.size
    assert np.all(usable(cost, miss)[r, c]), "took a pair not worth taking"
    return float(cost[r, c].sum() + np.delete(miss, r).sum())


def brute(cost, miss):
    """Minimum objective by enumerating every detection-per-track labelling."""
    n, k = cost.shape
    ok = usable(cost, miss)
    best = np.inf
    for labels in itertools.product(range(-1, k), repeat=n):
        used = [j for j in labels if j >= 0]
        if len(used) != len(set(used)) or any(j >= 0 and not ok[i, j]
                                               for i, j in enumerate(labels)):
            continue
        best = min(best, sum(cost[i, j] if j >= 0 else miss[i] for i, j in enumerate(labels)))
    return best


def scipy_optimum(cost, miss):
    """Optimal objective of scipy's linear_sum_assignment on [C | diag(miss)]."""
    n, k = cost.shape
    ok = usable(cost, miss)
    big = 1e12 + 10.0 * (np.abs(cost[ok]).sum() + np.abs(miss).sum())
    C = np.full((n, k + n), big)
    C[:, :k] = np.where(ok, cost, big)
    C[np.arange(n), k + np.arange(n)] = miss
    r, c = linear_sum_assignment(C)
    return float(C[r, c].sum()), np.where(c < k, c, -1)[np.argsort(r)]


def random_problem(rng, n, k, density, kind):
    cost = {"exp": lambda: rng.exponential(1.0, (n, k)),
            "signed": lambda: rng.normal(0.0, 1.0, (n, k)),
            "ties": lambda: rng.integers(0, 3, (n, k)).astype(float) / 2}[kind]()
    cost[rng.random((n, k)) >= density] = np.inf
    miss = (np.full(n, 1.0) if kind == "ties" else rng.uniform(0.3, 2.0, n))
    return cost, miss


@pytest.mark.parametrize("kind", ["exp", "signed", "ties"])
@pytest.mark.parametrize("trial", range(25))
def test_equals_brute_force(backend, rng, trial, kind):
    """Every shape up to 5 × 5 (empty rows and columns, n > k, k > n), any density."""
    n, k = int(rng.integers(0, 6)), int(rng.integers(0, 6))
    cost, miss = random_problem(rng, n, k, rng.uniform(0.1, 1.0), kind)
    if n * k and trial % 4 == 0:                  # non-finite listed costs: never taken
        cost[rng.integers(n), rng.integers(k)] = np.nan
        cost[rng.integers(n), rng.integers(k)] = -np.inf
    out = solve(cost, miss)
    assert total(cost, miss, out) == pytest.approx(brute(cost, miss), rel=1e-12, abs=1e-12)


def test_nothing_worth_taking(backend, rng):
    """Every pair costs ≥ its row's miss (equal included), or is inf/NaN: no row assigned."""
    miss = rng.uniform(1.0, 2.0, 6)
    cost = miss[:, None] + rng.uniform(0.0, 1.0, (6, 4))
    cost[:, 0] = miss                                # c == miss is not < miss
    cost[1, 1], cost[2, 2] = np.nan, np.inf
    cost[3, 3] = -np.inf
    out = solve(cost, miss, listed=np.ones((6, 4), bool))
    assert np.all(out == -1)


@pytest.mark.parametrize("n,k", [(0, 0), (0, 4), (4, 0), (3, 5)])
def test_empty(backend, n, k):
    """No rows, no columns, or no pairs listed at all."""
    out = solve(np.full((n, k), np.inf), np.ones(n))
    assert np.all(out == -1)


def test_ties_take_the_smallest_index(backend):
    """Equal costs: one row takes its smallest column; two rows over the same two columns
    take one each, in index order — deterministically."""
    out = solve(np.full((1, 3), 0.5), [1.0])
    assert out.tolist() == [0]
    if _kernels.backend() == "cython":            # scipy's own tie order on the twin
        assert solve(np.full((2, 2), 0.5), [1.0, 1.0]).tolist() == [0, 1]
    for _ in range(3):
        assert solve(np.full((4, 3), 0.5), np.ones(4)).tolist() == \
            solve(np.full((4, 3), 0.5), np.ones(4)).tolist()


def test_closed_form_displacement(backend):
    """Row 1 takes column 0 from row 0, which falls back to column 1 (3 + 4 < 1 + 9 and
    < 1 + miss_1): an augmenting path through an assigned row; with a cheaper miss for
    row 1 the displacement no longer pays. Two rows on one column: the cheaper wins."""
    cost = np.array([[1.0, 3.0], [4.0, np.inf]])
    assert solve(cost, [10.0, 10.0]).tolist() == [1, 0]
    assert solve(cost, [10.0, 6.5]).tolist() == [1, 0]        # 3 + 4 < 1 + 6.5
    assert solve(cost, [10.0, 5.5]).tolist() == [0, -1]       # 1 + 5.5 < 3 + 4
    assert solve(np.array([[0.2], [0.1]]), [1.0, 1.0]).tolist() == [-1, 0]


@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (60, 60)])
@pytest.mark.parametrize("kind", ["exp", "signed", "ties"])
def test_medium_equals_scipy(backend, rng, shape, kind):
    """Denser medium problems (long augmenting paths): scipy's optimum; on continuous
    costs (a unique optimum) scipy's assignment itself."""
    n, k = shape
    cost, miss = random_problem(rng, n, k, 0.3, kind)
    out = solve(cost, miss)
    best, ref = scipy_optimum(cost, miss)
    assert total(cost, miss, out) == pytest.approx(best, rel=1e-9)
    if kind != "ties":
        np.testing.assert_array_equal(out, ref)


def gate_graph(rng, n, k, npairs):
    """A tracker-like sparse gate graph: track i sees detections near its own position
    (most tracks 0–3 candidates, clusters where positions are dense)."""
    ti = rng.integers(0, n, npairs)
    dj = np.clip((ti * (k / n) + rng.normal(0, 2.0, npairs)).astype(np.int64), 0, k - 1)
    key = np.unique(ti * k + dj)
    ti, dj = key // k, key % k
    cost = rng.exponential(0.3, ti.size)
    return ti, dj, cost


@pytest.mark.parametrize("n,k,npairs", [(3000, 2000, 5000), (2000, 3000, 5000),
                                        (1000, 1000, 6000)])
def test_large_sparse_equals_scipy(backend, rng, n, k, npairs):
    """Large gate graphs: the optimum of scipy's [C | diag(miss)] (solved here per
    connected component, which the optimum decomposes over) to 1e-9."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    ti, dj, cv = gate_graph(rng, n, k, npairs)
    miss = rng.uniform(0.5, 1.0, n)
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ti, minlength=n), out=row_ptr[1:])
    out = np.empty(n, np.int64)
    na = _kernels.get("assign").assign_sparse(row_ptr, dj, cv, miss, k, out)
    r = np.flatnonzero(out >= 0)
    assert na == r.size > 0
    pair = dict(zip(zip(ti.tolist(), dj.tolist()), cv.tolist()))
    assert len(set(out[r].tolist())) == r.size
    got = sum(pair[(i, j)] for i, j in zip(r.tolist(), out[r].tolist())) + \
        np.delete(miss, r).sum()
    # scipy per component
    ok = cv < miss[ti]
    A = csr_matrix((np.ones(ok.sum()), (ti[ok], n + dj[ok])), shape=(n + k, n + k))
    _, lab = connected_components(A, directed=False)
    best = miss.sum()
    for c in np.unique(lab[ti[ok]]):
        s = ok & (lab[ti] == c)
        tr, ri = np.unique(ti[s], return_inverse=True)
        de, ci = np.unique(dj[s], return_inverse=True)
        C = np.full((tr.size, de.size), np.inf)
        C[ri, ci] = cv[s]
        best += scipy_optimum(C, miss[tr])[0] - miss[tr].sum()
    assert got == pytest.approx(best, rel=1e-9)


def test_twins_agree(rng):
    """The compiled kernel and the numpy twin give the same assignment on tie-free random
    problems of many shapes (and equal optima on ties)."""
    if _kernels._state["mode"] == "reference" or _kernels.backend() == "reference":
        pytest.skip("compiled kernels not in use")
    from xband._ext import assign as ext
    from xband.reference import assign as ref

    for trial in range(60):
        n, k = int(rng.integers(0, 40)), int(rng.integers(0, 40))
        kind = ("exp", "signed", "ties")[trial % 3]
        cost, miss = random_problem(rng, n, k, rng.uniform(0.02, 0.5), kind)
        row_ptr, cols, cv = csr(cost)
        o1, o2 = np.empty(n, np.int64), np.empty(n, np.int64)
        n1 = ext.assign_sparse(row_ptr, cols, cv, miss, k, o1)
        n2 = ref.assign_sparse(row_ptr, cols, cv, miss, k, o2)
        if kind == "ties":          # equal optima may even differ in how many are assigned
            assert total(cost, miss, o1) == pytest.approx(total(cost, miss, o2), abs=1e-12)
        else:
            assert n1 == n2
            np.testing.assert_array_equal(o1, o2)


@pytest.mark.parametrize("args,msg", [
    (([0, 2, 1], [0, 0], [0.1, 0.2], [1.0, 1.0], 1), "non-decreasing"),
    (([0, 1, 2], [0, 3], [0.1, 0.2], [1.0, 1.0], 2), "column index"),
    (([0, 1, 2], [0, -1], [0.1, 0.2], [1.0, 1.0], 2), "column index"),
    (([0, 1, 2], [0, 1], [0.1, 0.2], [1.0, np.inf], 2), "finite"),
    (([0, 1, 2], [0, 1], [0.1, 0.2], [np.nan, 1.0], 2), "finite"),
    (([0, 1], [0, 1], [0.1, 0.2], [1.0, 1.0], 2), "row_ptr must have"),
    (([0, 1, 3], [0, 1], [0.1, 0.2], [1.0, 1.0], 2), "exceeds"),
    (([0, 1, 2], [0, 1], [0.1], [1.0, 1.0], 2), "one length"),
])
def test_bad_input_names_what_is_wrong(backend, args, msg):
    row_ptr, cols, cost, miss, k = args
    out = np.empty(2, np.int64)
    f = _kernels.get("assign").assign_sparse
    a = (np.array(row_ptr, np.int64), np.array(cols, np.int64), np.array(cost),
         np.array(miss), k, out)
    with pytest.raises(ValueError, match=msg):
        f(*a)
