r"""Cluster-robust covariances, one-way and multi-way (Cameron, Gelbach & Miller 2011), for the
absorbed OLS fit and the instrumental-variables estimators.

With bread B (k x k) and per-row scores s_i (the row of the design times the residual:
x̃_i e_i for OLS, x̂_i e_i for IV), the one-way cluster covariance is

    V = c · B (Σ_g S_g S_g') B,   S_g = Σ_{i ∈ g} s_i,

and with several cluster variables 1 … m the inclusion–exclusion sum over the non-empty subsets
S of {1 … m} (the clusters of S: the intersections of the variables in S),

    V = Σ_S (−1)^{|S|+1} c_S · B M_S B,   M_S = Σ_{g ∈ clusters of S} S_g S_g'.

For two variables: V_1 + V_2 − V_12. The factors c_S are the small-sample corrections:
pyfixest's ``ssc(G_adj=True, G_df="min")`` uses c_S = G/(G − 1) · (n − 1)/(n − df_k) with
G = min(G_1 … G_m) for every term; linearmodels' ``debiased=True`` uses each term's own G_S.
The caller passes the rule (:func:`multiway_meat`). V need not be positive semi-definite with
several variables (Cameron, Gelbach & Miller 2011, §2.3); it is reported as computed, as both
packages do.

References: A. C. Cameron, J. B. Gelbach and D. L. Miller, "Robust inference with multiway
clustering", J. Business & Economic Statistics 29(2) (2011) 238-249; A. C. Cameron and D. L.
Miller, "A practitioner's guide to cluster-robust inference", J. Human Resources 50(2) (2015).
"""
from __future__ import annotations

import itertools
import math

from ..engine import backend
from ..engine.tensor import Tensor

np = backend.host

__all__ = ["cluster_codes", "group_sums", "intersect", "multiway_meat", "min_clusters_factor", "own_clusters_factor"]


def _as_columns(groups, n, who, lookup=None):
    """The cluster variables as a list of 1-D arrays (a name or list of names looked up by ``lookup``)."""
    if isinstance(groups, str) or (isinstance(groups, (list, tuple)) and groups
                                   and all(isinstance(g, str) for g in groups)):
        names = [groups] if isinstance(groups, str) else list(groups)
        if lookup is None:
            raise ValueError(f"{who}: groups: column names {names} need X to be a DataFrame holding them")
        return [lookup(name) for name in names]
    if isinstance(groups, Tensor):
        groups = groups.numpy()
    if hasattr(groups, "columns") and hasattr(groups, "to_numpy"):
        return [groups[c].to_numpy() for c in groups.columns]
    if hasattr(groups, "to_numpy"):
        groups = groups.to_numpy()
    values = np.asarray(groups)
    if values.ndim == 1:
        return [values]
    if values.ndim == 2:
        return [values[:, j] for j in range(values.shape[1])]
    raise ValueError(f"{who}: groups: expected one label per row (a 1-D array of {n}) or one column per cluster "
                     f"variable (an array of shape ({n}, m)); got shape {values.shape}")


def cluster_codes(groups, n, who, lookup=None):
    """Integer codes and counts of each cluster variable: ([codes_1 …], [G_1 …]).

    ``groups``: a 1-D array of labels, an (n, m) array or a DataFrame of m columns (multi-way),
    or column names resolved by ``lookup``. Refused: wrong lengths, missing labels, a variable
    with fewer than 2 clusters."""
    from .fixed_effects import factorize

    columns = _as_columns(groups, n, who, lookup)
    codes, counts = [], []
    for j, column in enumerate(columns):
        column = np.asarray(column)
        if column.shape[0] != n:
            raise ValueError(f"{who}: groups: expected {n} labels (one per row of X); got {column.shape[0]}")
        c, G = factorize(column, "groups" if len(columns) == 1 else f"groups column {j}", who)
        if G < 2:
            raise ValueError(f"{who}: groups: cluster-robust covariance needs at least 2 groups; got {G}"
                             + ("" if len(columns) == 1 else f" in cluster variable {j}"))
        codes.append(c)
        counts.append(G)
    return codes, counts


def intersect(codes_list):
    """Codes of the intersections of several cluster variables (one cluster per observed combination)."""
    combined = np.zeros(codes_list[0].shape[0], dtype=np.int64)
    for codes in codes_list:
        combined = combined * (int(codes.max()) + 1) + codes
    _, inverse = np.unique(combined, return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1


def group_sums(scores, codes, G):
    """S_g = Σ_{i ∈ g} s_i for every cluster: a (G, k) array."""
    return np.column_stack([np.bincount(codes, weights=scores[:, j], minlength=G) for j in range(scores.shape[1])])


def multiway_meat(scores, codes_list, factor):
    """Σ_S (−1)^{|S|+1} factor(G_S) · M_S over the non-empty subsets S of the cluster variables
    (module docstring); ``factor(G_S)`` is the small-sample correction of the term with G_S clusters."""
    k = scores.shape[1]
    meat = np.zeros((k, k))
    m = len(codes_list)
    for size in range(1, m + 1):
        for subset in itertools.combinations(range(m), size):
            if size == 1:
                codes, G = codes_list[subset[0]], int(codes_list[subset[0]].max()) + 1
            else:
                codes, G = intersect([codes_list[j] for j in subset])
            sums = group_sums(scores, codes, G)
            meat += (-1) ** (size + 1) * factor(G) * (sums.T @ sums)
    return meat


def min_clusters_factor(counts, n, df_k):
    """pyfixest's correction for every term: G/(G − 1) · (n − 1)/(n − df_k), G = min over the variables."""
    G = min(counts)
    value = G / (G - 1) * (n - 1) / (n - df_k)
    return lambda _G: value


def own_clusters_factor(n, k):
    """linearmodels' ``debiased=True`` correction of each term: G_S/(G_S − 1) · (n − 1)/(n − k)."""
    return lambda G: G / (G - 1) * (n - 1) / (n - k) if G > 1 else math.nan
