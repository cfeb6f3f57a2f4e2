"""The Fréchet and kernel distances against closed forms, and the Inception loader on a small frozen
graph built here with the tensor names, the GraphDef version and the old batch-norm op of
inception-2015-12-05's classify_image_graph_def.pb."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2

import errors
import feature_distances


def with_exact_moments(rng, count, mean, covariance):
    """count samples whose sample mean and (n - 1) covariance are exactly `mean` and `covariance`."""
    z = rng.normal(size=(count, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T   # sample covariance I
    return z @ np.linalg.cholesky(covariance).T + mean


def test_frechet_distance_equals_the_closed_form_of_two_gaussians():
    rng = np.random.default_rng(0)
    mean_1, mean_2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 3.0, -2.0])
    variances_1, variances_2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    first = with_exact_moments(rng, 50, mean_1, np.diag(variances_1))
    second = with_exact_moments(rng, 80, mean_2, np.diag(variances_2))
    # diagonal covariances: |m1 - m2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)) = 5 + (4 + 1 + 0)
    assert feature_distances.frechet_distance(first, second) == pytest.approx(10.0, abs=1e-9)
    # a full covariance against itself shifted: only the means count
    covariance = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 0.7]])
    third = with_exact_moments(rng, 60, mean_1, covariance)
    assert feature_distances.frechet_distance(third, third + [2.0, 0, 0]) == pytest.approx(4.0, abs=1e-9)
    assert feature_distances.frechet_distance(third, third) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_fewer_samples_than_features_is_finite():
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=(5, 16)), rng.normal(size=(5, 16)) + 1.0
    distance = feature_distances.frechet_distance(first, second)
    assert np.isfinite(distance) and distance > 0


def squared_mmd_by_loops(first, second):
    """The unbiased MMD^2 of the cubic polynomial kernel, spelled out pair by pair."""
    def kernel(x, y):
        return (np.dot(x, y) / len(x) + 1.0) ** 3
    m, n = len(first), len(second)
    within_1 = sum(kernel(first[i], first[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    within_2 = sum(kernel(second[i], second[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    between = sum(kernel(x, y) for x in first for y in second) / (m * n)
    return within_1 + within_2 - 2 * between


def test_kernel_distance_is_the_unbiased_mmd_and_tells_apart_shifted_sets():
    rng = np.random.default_rng(2)
    first, second = rng.normal(size=(7, 4)), rng.normal(size=(9, 4)) + 0.5
    assert feature_distances.squared_mmd(first, second) == pytest.approx(squared_mmd_by_loops(first, second), rel=1e-12)
    # subsets as large as both sets: every subset is the whole of both, and gives the same figure
    mean, spread = feature_distances.kernel_distance(first, second[:7], subsets=5, subset_size=100)
    assert mean == pytest.approx(squared_mmd_by_loops(first, second[:7]), rel=1e-12) and spread == pytest.approx(0, abs=1e-12)
    same_1, same_2 = rng.normal(size=(400, 4)), rng.normal(size=(400, 4))
    near, _ = feature_distances.kernel_distance(same_1, same_2, subsets=20, subset_size=100)
    far, far_spread = feature_distances.kernel_distance(same_1, same_2 + 1.0, subsets=20, subset_size=100)
    assert abs(near) < 0.1 * far and far_spread > 0
    with pytest.raises(errors.DataError, match="2 images or more"):
        feature_distances.kernel_distance(first[:1], second)


CHANNELS = 8
STATISTICS = {"mean": 0.1, "variance": 2.0, "beta": 0.3, "gamma": 1.5}
EPSILON = 0.001


def kernel():
    return np.linspace(-1, 1, 3 * 3 * 3 * CHANNELS, dtype=np.float32).reshape(3, 3, 3, CHANNELS)


def write_inception_like_graph(path):
    """A frozen graph with the reference file's interface: ExpandDims:0 takes [1, H, W, 3] in 0..255,
    resized to 299; pool_3:0 gives [1, 1, 1, C]; in between a convolution and
    BatchNormWithGlobalNormalization, an op removed in GraphDef version 9, at the file's version 3."""
    graph = tf.Graph()
    with graph.as_default():
        # as in the real file, ExpandDims is an op inside the graph (after the JPEG decoder), fed directly
        decoded = tf.compat.v1.placeholder(tf.float32, [None, None, 3], name="DecodeJpeg")
        image = tf.expand_dims(decoded, 0, name="ExpandDims")
        resized = tf.image.resize(image, [299, 299], method="bilinear")
        convolved = tf.nn.conv2d((resized - 128.0) / 128.0, tf.constant(kernel()), strides=2, padding="VALID",
                                 name="conv")
        for name, value in STATISTICS.items():
            tf.constant(np.full(CHANNELS, value, np.float32), name=name)
        normalised = tf.identity(convolved, name="batchnorm")   # becomes the old op below
        tf.nn.avg_pool2d(tf.nn.relu(normalised), ksize=[1, 149, 149, 1], strides=1, padding="VALID", name="pool_3")
    graph_def = graph.as_graph_def()
    node = next(node for node in graph_def.node if node.name == "batchnorm")
    node.op = "BatchNormWithGlobalNormalization"
    del node.input[:]
    node.input.extend(["conv", "mean", "variance", "beta", "gamma"])
    node.attr.clear()
    node.attr["T"].CopyFrom(attr_value_pb2.AttrValue(type=tf.float32.as_datatype_enum))
    node.attr["variance_epsilon"].CopyFrom(attr_value_pb2.AttrValue(f=EPSILON))
    node.attr["scale_after_normalization"].CopyFrom(attr_value_pb2.AttrValue(b=True))
    graph_def.versions.producer = 3
    path.write_bytes(graph_def.SerializeToString())


def test_inception_loader_runs_a_graph_with_the_reference_files_names_version_and_ops(tmp_path):
    path = tmp_path / "classify_image_graph_def.pb"
    write_inception_like_graph(path)
    inception = feature_distances.InceptionPool3(path)
    image = np.random.default_rng(3).integers(0, 256, (32, 64, 3)).astype(np.uint8)
    features = inception(image)
    # the same maths, eagerly
    resized = tf.image.resize(tf.constant(image[None], tf.float32), [299, 299], method="bilinear")
    convolved = tf.nn.conv2d((resized - 128.0) / 128.0, kernel(), strides=2, padding="VALID")
    s = STATISTICS
    normalised = (convolved - s["mean"]) / np.sqrt(s["variance"] + EPSILON) * s["gamma"] + s["beta"]
    expected = tf.reduce_mean(tf.nn.relu(normalised), axis=[1, 2]).numpy()[0]
    assert features.shape == (CHANNELS,)
    np.testing.assert_allclose(features, expected, rtol=1e-4)
    assert len(inception.sha256) == 64


def test_inception_loader_names_a_wrong_file_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.pb"
    garbage.write_bytes(b"\x00\x01not a graph" * 10)
    with pytest.raises(errors.DataError, match="garbage.pb"):
        feature_distances.InceptionPool3(garbage)
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(1.0, name="something_else")
    other = tmp_path / "other.pb"
    other.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(errors.DataError, match="other.pb: no tensor ExpandDims:0"):
        feature_distances.InceptionPool3(other)
