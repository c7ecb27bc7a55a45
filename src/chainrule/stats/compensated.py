r"""Sums and products as accurate as if computed in twice the working precision (float64 x 2),
in plain NumPy: the error-free transformations of Knuth and Dekker, and the compensated dot
product Dot2 and sum Sum2 of Ogita, Rump & Oishi (2005).

Error-free transformations (float64 a, b; ⊕ ⊗ the rounded operations; no overflow):

    two_sum(a, b)  = (s, t)  with s = a ⊕ b and s + t = a + b exactly        (Knuth)
    two_prod(a, b) = (p, e)  with p = a ⊗ b and p + e = a · b exactly        (Dekker, Veltkamp's
                             split a = a_hi + a_lo into two 26-bit halves, factor 2^27 + 1)

Compensated algorithms: the rounded results s are accumulated as usual and the exactly known
errors t, e in a second float64 sum, so that the pair (hi, lo) with hi + lo ≈ the exact result
satisfies (Ogita, Rump & Oishi 2005, Prop. 4.5 and Thm. 4.7)

    |hi + lo − Σ a_i b_i|  ≤  u |Σ a_i b_i| + γ_n² Σ |a_i b_i|,    u = 2⁻⁵³, γ_n = n u / (1 − n u),

the bound of the plain dot product with u replaced by u²: the result is as accurate as if it
had been computed in double-double arithmetic and then rounded, so a dot product that cancels
by a factor c = Σ|a_i b_i| / |Σ a_i b_i| keeps 32 − log10 c digits instead of 16 − log10 c.
:func:`matmul2` applies Dot2 to every entry of a matrix product (vectorized over the rows
and columns, looping over the inner dimension); :func:`sum2` sums along the rows by a
pairwise tree of two_sum (log₂ n vectorized passes), with the same bound.

Used by :mod:`chainrule.stats.least_squares` to refine an ill-conditioned least-squares fit.
Limits: the split overflows for |a| > 2⁹⁹⁶ ≈ 6.7e299 (never met by data that fits a
regression). Cost: about 25 float64 operations per multiply-add, on NumPy arrays (no BLAS).

References: D. E. Knuth, *The Art of Computer Programming*, vol. 2, 3rd ed., 1998, §4.2.2;
T. J. Dekker, "A floating-point technique for extending the available precision", Numer.
Math. 18 (1971), 224-242; T. Ogita, S. M. Rump and S. Oishi, "Accurate sum and dot product",
SIAM J. Sci. Comput. 26(6) (2005), 1955-1988.
"""
from __future__ import annotations

from ..engine import backend

np = backend.host

__all__ = ["two_sum", "two_prod", "matmul2", "sum2"]

_SPLITTER = 134217729.0  # 2^27 + 1


def two_sum(a, b):
    """(s, t): s = fl(a + b) and the exact rounding error t = (a + b) − s (Knuth's TwoSum)."""
    s = a + b
    z = s - a
    return s, (a - (s - z)) + (b - z)


def _split(a):
    """(hi, lo) with a = hi + lo exactly, each with at most 26 significant bits (Veltkamp)."""
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a, b):
    """(p, e): p = fl(a · b) and the exact rounding error e = a · b − p (Dekker's TwoProduct)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return p, a_lo * b_lo - (((p - a_hi * b_hi) - a_lo * b_hi) - a_hi * b_lo)


def matmul2(A, B, C=None, block_rows: int = 2048):
    """(hi, lo) with hi + lo ≈ C + A @ B as accurately as in twice the working precision.

    A: (n, m); B: (m, k); C: None, an (n, k) array, or a pair (C_hi, C_lo) added exactly.
    Dot2 (Ogita, Rump & Oishi 2005, Alg. 5.3) on every entry, vectorized over the entries of
    a block of ``block_rows`` rows (kept in cache, with preallocated buffers); the m steps of
    the inner dimension are a Python loop, and a step skips the columns where B's row is zero
    from the left (an upper-triangular B costs half). Returns float64 arrays of shape (n, k);
    ``hi + lo`` is the result rounded to float64.
    """
    A = np.asarray(A, dtype=backend.float64)
    B = np.asarray(B, dtype=backend.float64)
    n, k = A.shape[0], B.shape[1]
    if C is None:
        hi, lo = np.zeros((n, k)), np.zeros((n, k))
    elif isinstance(C, tuple):
        hi, lo = np.array(C[0], dtype=backend.float64), np.array(C[1], dtype=backend.float64)
    else:
        hi, lo = np.array(C, dtype=backend.float64), np.zeros((n, k))
    # the work is done on transposed (k, rows) blocks, whose inner loops run along contiguous rows
    B_hi, B_lo = (part.T[:, :, None] for part in _split(B))
    Bt = B.T[:, :, None]
    nonzero = B != 0
    first = [int(np.argmax(row)) if row.any() else k for row in nonzero]  # the first nonzero column of each row
    buffers = [np.empty((k, min(block_rows, n))) for _ in range(3)]
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        At = np.ascontiguousarray(A[start:stop].T)
        A_hi, A_lo = _split(At)
        hi_t, lo_t = np.ascontiguousarray(hi[start:stop].T), np.ascontiguousarray(lo[start:stop].T)
        for m in range(A.shape[1]):
            j = first[m]
            if j == k:
                continue
            _dot2_step(At[m], A_hi[m], A_lo[m], Bt[j:, m], B_hi[j:, m], B_lo[j:, m], hi_t[j:], lo_t[j:],
                       [buffer[j:, : stop - start] for buffer in buffers])
        hi[start:stop], lo[start:stop] = hi_t.T, lo_t.T
    return hi, lo


def _dot2_step(a, a_hi, a_lo, b, b_hi, b_lo, hi, lo, buffers):
    """hi, lo ← the Dot2 update with the products b a (b: a column (k, 1), a: a row of A's block), in place."""
    p, e, w = buffers
    np.multiply(a, b, out=p)
    # e = a_lo b_lo − (((p − a_hi b_hi) − a_lo b_hi) − a_hi b_lo): the exact error of p
    np.multiply(a_hi, b_hi, out=w)
    np.subtract(p, w, out=e)
    np.multiply(a_lo, b_hi, out=w)
    e -= w
    np.multiply(a_hi, b_lo, out=w)
    e -= w
    np.multiply(a_lo, b_lo, out=w)
    np.subtract(w, e, out=e)
    lo += e
    # two_sum(hi, p): s = hi + p, t = (hi − (s − z)) + (p − z) with z = s − hi
    np.add(hi, p, out=w)      # s
    np.subtract(w, hi, out=e)  # z
    p -= e                     # p − z
    np.subtract(w, e, out=e)   # s − z
    hi -= e                    # hi − (s − z)
    lo += hi
    lo += p
    hi[...] = w


def sum2(a, b=None):
    """(hi, lo) with hi + lo ≈ Σ_i (a_i + b_i) over axis 0, as accurately as in twice the
    working precision (Sum2's bound; here a pairwise tree of two_sum, log₂ n vectorized
    passes, the rounding errors summed on the side). ``b``: an optional low-order part of
    the same shape as ``a`` (a double-double array a + b), whose plain sum joins the errors."""
    hi = np.array(a, dtype=backend.float64)
    lo = np.zeros(hi.shape[1:]) if b is None else np.sum(b, axis=0)
    while hi.shape[0] > 1:
        half = hi.shape[0] // 2
        s, t = two_sum(hi[:half], hi[half:2 * half])
        lo = lo + t.sum(axis=0)
        hi = np.concatenate([s, hi[2 * half:]]) if hi.shape[0] % 2 else s
    if hi.shape[0] == 0:
        return np.zeros(hi.shape[1:]), lo
    return hi[0], lo
