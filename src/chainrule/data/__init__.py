"""Datasets, mini-batches and input standardization.

The pieces of the supervised-learning pipeline that come before the model:

loading   Dataset, TensorDataset, Subset; DataLoader (shuffled mini-batches, one pass per
          epoch) and DistributedLoader (one rank's shard of every batch)
parquet   ParquetDataset: batches streamed from a Parquet file row group by row group;
          ShardedParquet: one rank's share of it
splits    random_split and train_test_split: hold out data for validation and testing
scaling   StandardScaler: mean 0 and standard deviation 1 with the training split's statistics
text      CharTokenizer, language_model_batches (next-character targets), the n-gram
          baselines in bits per character, and SubwordTokenizer (WordPiece or BPE)
checks    the checks they share (no NaN or inf values, valid seeds)

Example::

    import chainrule as cr
    from chainrule.data import DataLoader, StandardScaler, TensorDataset, train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    scaler = StandardScaler().fit(X_train)
    train = TensorDataset(cr.tensor(scaler.transform(X_train), dtype=cr.float32),
                          cr.tensor(y_train))
    for xb, yb in DataLoader(train, batch_size=64, seed=0):
        ...
"""
from .loading import DataLoader, Dataset, DistributedLoader, Subset, TensorDataset
from .parquet import ParquetDataset, ShardedParquet
from .scaling import StandardScaler
from .splits import random_split, train_test_split
from .text import CharTokenizer, SubwordTokenizer, language_model_batches, ngram_bits_per_character

__all__ = [
    "Dataset", "TensorDataset", "Subset", "DataLoader", "DistributedLoader", "random_split",
    "train_test_split", "StandardScaler", "ParquetDataset", "CharTokenizer", "language_model_batches",
    "ngram_bits_per_character", "SubwordTokenizer",
]
