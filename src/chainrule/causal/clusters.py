r"""Cluster-robust double/debiased machine learning: cluster sample splits, the estimate and
its standard error when the rows are dependent within one or two cluster dimensions.

Chiang, Kato, Ma and Sasaki (2022), "Multiway cluster robust double/debiased machine
learning", Journal of Business & Economic Statistics 40(3) 1046–1056; the conventions are
DoubleML's (``DoubleMLData(cluster_cols=...)``), whose estimates and standard errors these
equal on the same folds.

**Folds.** One cluster dimension (c): the clusters are partitioned into K folds I_1 … I_K;
fold k tests on the rows whose cluster is in I_k and trains on all other rows. Two dimensions
(c¹, c²): each dimension's clusters are partitioned into K folds (I_k and J_l), and the K²
folds (k, l), k-major, test on the rows with c¹ ∈ I_k and c² ∈ J_l and train on the rows with
c¹ ∉ I_k and c² ∉ J_l (a row that shares a cluster with the test rows in either dimension is
used neither to test nor to train that fold). The test sets partition the rows.

**Estimate.** For a score linear in θ, ψ = θ ψ_a + ψ_b, each fold f is weighted by
w_f = 1/|I_k| (one dimension) or 1/(|I_k| |J_l|) (two):

    θ̂ = − Σ_f w_f Σ_{i ∈ test_f} ψ_b,i  /  Σ_f w_f Σ_{i ∈ test_f} ψ_a,i

**Variance.** One dimension, with C clusters and S_c = Σ_{i ∈ c} ψ_i the score summed over a
cluster:

    J = (1/K) Σ_k (1/|I_k|) Σ_{i ∈ test_k} ψ_a,i,   Γ = (1/K) Σ_k (1/|I_k|) Σ_{c ∈ I_k} S_c²,
    se = sqrt(Γ / (C J²))

Two dimensions, with C = min(C¹, C²) and, within fold (k, l), S¹_a = Σ_{test rows with c¹ = a} ψ_i
and S²_b = Σ_{test rows with c² = b} ψ_i:

    J = (1/K²) Σ_{k,l} Σ_{i ∈ test_kl} ψ_a,i / (|I_k| |J_l|),
    Γ = (1/K²) Σ_{k,l} min(|I_k|, |J_l|) / (|I_k| |J_l|)² (Σ_a (S¹_a)² + Σ_b (S²_b)²),
    se = sqrt(Γ / (C J²))

The multiplier bootstrap draws one weight per row, which ignores the dependence within a
cluster, so cluster-robust fits refuse ``bootstrap()`` (as DoubleML does).
"""
from __future__ import annotations

import math

from ..engine import backend

np = backend.host

__all__ = ["cluster_codes", "make_cluster_folds", "cluster_fold_sets", "solve_clustered_score"]


def cluster_codes(clusters, n_obs: int, model: str = "DML"):
    """``(codes, names)``: the cluster labels (n,) or (n, 1|2) as an (n, g) int array of codes
    0 … C_j − 1 (the sorted unique labels of each column) and the columns' names."""
    names = [str(c) for c in clusters.columns] if hasattr(clusters, "columns") else None
    if names is None and hasattr(clusters, "name") and hasattr(clusters, "to_numpy"):
        names = [str(clusters.name)]
    values = np.asarray(clusters.to_numpy() if hasattr(clusters, "to_numpy") else clusters)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2 or values.shape[0] != n_obs or values.shape[1] not in (1, 2):
        raise ValueError(f"{model}: clusters must have one row per observation ({n_obs}) and one or two columns "
                         f"(cluster dimensions); got shape {values.shape}")
    codes = np.empty(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        column = values[:, j]
        if column.dtype.kind == "f" and not np.isfinite(column).all():
            raise ValueError(f"{model}: clusters column {j} has missing or non-finite labels")
        if column.dtype == object and any(label is None for label in column):
            raise ValueError(f"{model}: clusters column {j} has missing labels (None)")
        _, codes[:, j] = np.unique(column, return_inverse=True)
    return codes, names or [f"cluster{j}" for j in range(values.shape[1])]


def make_cluster_folds(codes, n_folds: int, n_rep: int, random_state=None) -> list:
    """``n_rep`` cluster sample splits (module docstring): each a list of K (one dimension) or
    K² (two) (train, test) row-index pairs; each dimension's clusters are shuffled and cut into
    K blocks as :func:`chainrule.causal.folds.make_folds` cuts rows."""
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    counts = codes.max(axis=0) + 1
    for j, count in enumerate(counts):
        if n_folds > count:
            raise ValueError(f"make_cluster_folds: n_folds ({n_folds}) exceeds the number of clusters ({count}) "
                             f"of cluster dimension {j}")
    splits = []
    for _ in range(n_rep):
        fold_of = []  # per dimension: the fold of each cluster
        for count in counts:
            sizes = np.full(n_folds, count // n_folds)
            sizes[: count % n_folds] += 1
            fold = np.empty(count, dtype=np.int64)
            fold[rng.permutation(count)] = np.repeat(np.arange(n_folds), sizes)
            fold_of.append(fold[codes[:, len(fold_of)]])
        splits.append(_folds_from_assignment(fold_of, n_folds))
    return splits


def _folds_from_assignment(fold_of, n_folds):
    """The (train, test) pairs, k-major over the dimensions, from each row's fold per dimension."""
    pairs = []
    for cell in np.ndindex(*([n_folds] * len(fold_of))):
        test = np.logical_and.reduce([fold == k for fold, k in zip(fold_of, cell)])
        train = np.logical_and.reduce([fold != k for fold, k in zip(fold_of, cell)])
        pairs.append((np.flatnonzero(train), np.flatnonzero(test)))
    return pairs


def cluster_fold_sets(codes, folds, model: str = "DML") -> tuple:
    """``(K, sets)`` of one repetition's folds: K folds per cluster dimension and, per fold, the
    test clusters of each dimension (I_k, or I_k and J_l). Refuses folds that split a cluster
    between test sets, whose count is not K^g, or that train on a row sharing a cluster with
    the fold's test rows."""
    g = codes.shape[1]
    K = round(len(folds) ** (1.0 / g))
    if K ** g != len(folds):
        raise ValueError(f"{model}: with {g} cluster dimensions the folds must number K^{g}; got {len(folds)}")
    per_dimension = []
    for j in range(g):  # fold (k, l) is number k * K + l: dimension 0's fold is m // K, dimension 1's m % K
        owner = [m // K ** (g - 1 - j) % K for m in range(len(folds))]
        per_dimension.append([np.unique(np.concatenate([codes[test, j] for m, (_, test) in enumerate(folds)
                                                        if owner[m] == k])) for k in range(K)])
    sets = []
    for m, (train, test) in enumerate(folds):
        cell = [m // K ** (g - 1 - j) % K for j in range(g)]
        chosen = [per_dimension[j][cell[j]] for j in range(g)]
        inside = np.logical_and.reduce([np.isin(codes[:, j], chosen[j]) for j in range(g)])
        touching = np.logical_or.reduce([np.isin(codes[:, j], chosen[j]) for j in range(g)])
        if not np.array_equal(np.flatnonzero(inside), np.sort(test)):
            raise ValueError(f"{model}: fold {m}'s test rows are not the rows of its test clusters (a cluster is split "
                             f"between folds); draw the folds with make_cluster_folds")
        if touching[train].any():
            raise ValueError(f"{model}: fold {m} trains on rows that share a cluster with its test rows "
                             f"(e.g. row {train[touching[train]][0]})")
        sets.append(chosen)
    return K, sets


def solve_clustered_score(psi_a, psi_b, folds, sets, K, codes):
    """θ̂, the score ψ at θ̂, J and the cluster-robust se (module docstring), for one
    repetition's ``folds`` with their test-cluster ``sets`` (:func:`cluster_fold_sets`)."""
    weights = [1.0 / math.prod(len(chosen) for chosen in fold_sets) for fold_sets in sets]
    sum_a = sum(w * np.sum(psi_a[test]) for w, (_, test) in zip(weights, folds))
    sum_b = sum(w * np.sum(psi_b[test]) for w, (_, test) in zip(weights, folds))
    if not np.isfinite(sum_a) or sum_a == 0:
        raise ValueError(f"the score's Jacobian is {sum_a}: the treatment has no variation left after the nuisance "
                         f"fit (a constant treatment, or a treatment the learner predicts exactly)")
    theta = -sum_b / sum_a
    psi = psi_a * theta + psi_b
    g = codes.shape[1]
    J = sum_a / K ** g
    gamma = sum(_fold_gamma(psi[test], codes[test], fold_sets) for (_, test), fold_sets in zip(folds, sets)) / K ** g
    clusters = int(min(codes.max(axis=0) + 1))
    return theta, psi, J, float(np.sqrt(gamma / (clusters * J * J)))


def _fold_gamma(psi, codes, fold_sets):
    """One fold's term of Γ: the squared cluster sums of ψ over its test rows, weighted."""
    squares = [np.sum(np.bincount(codes[:, j], weights=psi) ** 2) for j in range(codes.shape[1])]
    if len(fold_sets) == 1:
        return squares[0] / len(fold_sets[0])
    first, second = len(fold_sets[0]), len(fold_sets[1])
    return min(first, second) / (first * second) ** 2 * (squares[0] + squares[1])
