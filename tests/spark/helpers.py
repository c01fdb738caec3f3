"""What the Spark training tests share: the small MLP they train, its data as (x, y) batches per
partition, and the single-process reference they are held to."""
import numpy as np

from graphc import nn


def mlp(weights=None):
    """Dense(5 -> 8, tanh) -> Dense(3, softmax), starting from `weights` when given."""
    m = nn.Sequential([nn.Input((5,)), nn.Dense(8, activation="tanh"), nn.Dense(3, activation="softmax")])
    if weights is not None:
        m.set_weights(weights)
    return m


def batches(sizes, seed=0):
    """One (x, one-hot y) float32 batch per partition, of the given sizes."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n, 5)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)])
            for n in sizes]


def rdd(spark, parts):
    return spark.sparkContext.parallelize(parts, len(parts))  # one (x, y) batch per partition


def reference(start, optimizer, loss, parts, batch, iterations):
    """Single process: train_on_batch on iteration i's concatenated slices of every partition (the
    slices wrap after one pass over the largest partition, as SparkTrainer's do); the model."""
    m = mlp(start)
    m.compile(optimizer=optimizer, loss=loss)
    span = -(-max(len(p[0]) for p in parts) // batch) * batch
    for i in range(iterations):
        s = (i * batch) % span
        m.train_on_batch(np.concatenate([p[0][s:s + batch] for p in parts]),
                         np.concatenate([p[1][s:s + batch] for p in parts]))
    return m


def close(got, want):
    """Equal to 1e-6 of each array's largest magnitude."""
    for g, w in zip(got, want):
        scale = np.max(np.abs(w))
        assert np.max(np.abs(g - w)) <= 1e-6 * scale, (np.max(np.abs(g - w)) / scale)


def same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
