"""The contextual loss (contextual_loss.py): the paper's equations against a numpy reference, its
properties, pooling to the position limit, and gradients through both VGGs."""

import numpy as np
import pytest
import tensorflow as tf

import data_root
import vgg_features
from contextual_loss import ContextualLoss, contextual_term, parse_layers, pool_to_at_most


def reference_term(generated, real, bandwidth):
    """-log CX(X, Y) of one sample's [P, C] and [Q, C] features, written out in float64 loops."""
    x, y = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    centre = y.mean(axis=0)
    x = (x - centre) / np.linalg.norm(x - centre, axis=1, keepdims=True)
    y = (y - centre) / np.linalg.norm(y - centre, axis=1, keepdims=True)
    cx = np.zeros((len(x), len(y)))
    for i in range(len(x)):
        distance = np.array([1.0 - x[i] @ y[j] for j in range(len(y))])
        relative = distance / (distance.min() + 1e-5)
        weights = np.exp((1.0 - relative) / bandwidth)
        cx[i] = weights / weights.sum()
    return -np.log(np.mean([cx[:, j].max() for j in range(len(y))]))


def _maps(rng, *shape):
    return rng.normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("bandwidth", [0.5, 0.1, 1.0])
def test_the_term_equals_a_numpy_reference_of_the_equations(bandwidth):
    rng = np.random.default_rng(0)
    generated, real = _maps(rng, 2, 3, 4, 6), _maps(rng, 2, 4, 2, 6)   # 12 and 8 positions
    terms = contextual_term(tf.constant(generated), tf.constant(real), bandwidth).numpy()
    assert terms.shape == (2,)
    for sample in range(2):   # each sample against its own real features
        expected = reference_term(generated[sample].reshape(-1, 6), real[sample].reshape(-1, 6), bandwidth)
        assert terms[sample] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_cx_of_a_map_with_itself_is_one_and_the_term_zero():
    features = tf.constant(_maps(np.random.default_rng(1), 2, 5, 7, 16))
    np.testing.assert_allclose(contextual_term(features, features, 0.5).numpy(), 0.0, atol=1e-5)


def test_the_term_ignores_where_the_real_positions_are_and_grows_with_unrelated_features():
    rng = np.random.default_rng(2)
    real = _maps(rng, 1, 6, 8, 16)
    generated = real + 0.3 * _maps(rng, 1, 6, 8, 16)
    shuffled = real.reshape(48, 16)[rng.permutation(48)].reshape(1, 6, 8, 16)
    close = contextual_term(tf.constant(generated), tf.constant(real), 0.5).numpy()
    assert contextual_term(tf.constant(generated), tf.constant(shuffled), 0.5).numpy() == \
        pytest.approx(close, rel=1e-5)
    unrelated = contextual_term(tf.constant(generated), tf.constant(_maps(rng, 1, 6, 8, 16)), 0.5).numpy()
    assert unrelated > close + 0.5, (unrelated, close)


def test_pooling_keeps_every_layer_under_the_limit_at_level_4():
    def positions_after_pooling(height, width, limit):
        pooled = pool_to_at_most(tf.zeros([1, height, width, 1]), limit)
        return pooled.shape[1] * pooled.shape[2]

    # level 4's VGG sees the half-size images; a layer of block b is 2^(b-1) times smaller again
    for base_height in (64, 256):   # a test size, and the original's 1024x2048
        height, width = (side // 2 for side in data_root.Sizes(base_height).shape(4))
        for block, layer in enumerate(vgg_features.LOSS_LAYERS):
            size = (height >> block, width >> block)
            for limit in (4096, 100):
                kept = positions_after_pooling(*size, limit)
                assert kept <= limit, (base_height, layer, limit)
                if size[0] * size[1] > limit:   # pooled no further than needed
                    assert kept * 4 > limit, (base_height, layer, limit)
                else:
                    assert kept == size[0] * size[1]
    # pooling averages 2x2 cells, the same way on both maps
    image = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
    np.testing.assert_array_equal(pool_to_at_most(image, 4).numpy()[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def _vgg16(tmp_path):
    return vgg_features.load_vgg(tmp_path)


def _vgg19(tmp_path):
    rng = np.random.default_rng(3)
    weights, channels = {}, 3
    for block in vgg_features.VGG19_LAYERS:
        for name in block:
            weights[name] = (rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, 8)).astype(np.float32),
                             np.zeros(8, np.float32))
            channels = 8
    (tmp_path / "trainedmodels").mkdir()
    vgg_features.write_matconvnet_vgg19(tmp_path / vgg_features.VGG19_FILE, weights)
    return vgg_features.load_vgg(tmp_path)


@pytest.mark.parametrize("load", [_vgg16, _vgg19], ids=["vgg16", "vgg19"])
def test_gradients_reach_the_generated_image_through_either_vgg(tmp_path, load):
    vgg = load(tmp_path)
    rng = np.random.default_rng(4)
    real = tf.constant(rng.uniform(0, 255, (2, 32, 64, 3)), tf.float32)
    generated = tf.Variable(rng.uniform(0, 255, (2, 32, 64, 3)), dtype=tf.float32)
    loss = ContextualLoss(weight=2.0, layers=("conv2_2", "conv3_2", "conv4_2"), max_positions=64)
    with tf.GradientTape() as tape:
        terms = loss(vgg(generated), vgg(real))
        total = tf.reduce_sum(terms)
    gradient = tape.gradient(total, generated).numpy()
    assert terms.shape == (2,) and np.all(terms.numpy() > 0)
    assert np.isfinite(gradient).all() and np.abs(gradient).reshape(2, -1).max(axis=1).min() > 0
    # the weight scales the sum of the layers' terms
    features = vgg(generated), vgg(real)
    single = [ContextualLoss(weight=1.0, layers=(layer,), max_positions=64)(*features).numpy()
              for layer in loss.layers]
    np.testing.assert_allclose(terms.numpy(), 2.0 * np.sum(single, axis=0), rtol=1e-5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="conv1_2,conv2_2"):
        ContextualLoss(weight=1.0, layers=("conv3_3",))
    with pytest.raises(ValueError, match="bandwidth"):
        ContextualLoss(weight=1.0, bandwidth=0.0)
    assert not ContextualLoss().enabled and ContextualLoss().record() == {"contextual_weight": 0.0}
    assert ContextualLoss(weight=1.0).record() == {
        "contextual_weight": 1.0, "contextual_layers": "conv3_2,conv4_2", "contextual_bandwidth": 0.5,
        "contextual_max_positions": 4096}


def test_layer_weights_multiply_each_layer_term_and_are_read_as_layer_colon_weight():
    rng = np.random.default_rng(5)
    generated = {"conv3_2": tf.constant(_maps(rng, 2, 4, 8, 16)), "conv4_2": tf.constant(_maps(rng, 2, 2, 4, 32))}
    real = {"conv3_2": tf.constant(_maps(rng, 2, 4, 8, 16)), "conv4_2": tf.constant(_maps(rng, 2, 2, 4, 32))}
    each = {layer: contextual_term(generated[layer], real[layer], 0.1).numpy() for layer in generated}
    layers, weights = parse_layers("conv3_2:3, conv4_2:0.5")
    assert (layers, weights) == (("conv3_2", "conv4_2"), (3.0, 0.5))
    weighted = ContextualLoss(2.0, layers, 0.1, 4096, weights)
    np.testing.assert_allclose(weighted(generated, real).numpy(), 2.0 * (3 * each["conv3_2"] + 0.5 * each["conv4_2"]),
                               rtol=1e-5)
    assert weighted.record()["contextual_layers"] == "conv3_2:3,conv4_2:0.5"
    # no weights, or all of them 1, is the plain sum and is recorded as before layer weights existed
    assert parse_layers("conv3_2,conv4_2:1") == (("conv3_2", "conv4_2"), (1.0, 1.0))
    for plain in (ContextualLoss(2.0, layers, 0.1), ContextualLoss(2.0, layers, 0.1, 4096, (1.0, 1.0))):
        np.testing.assert_allclose(plain(generated, real).numpy(), 2.0 * (each["conv3_2"] + each["conv4_2"]), rtol=1e-5)
        assert plain.record()["contextual_layers"] == "conv3_2,conv4_2"
    with pytest.raises(ValueError, match="2 numbers > 0"):
        ContextualLoss(1.0, layers, layer_weights=(1.0,))
    with pytest.raises(ValueError, match="2 numbers > 0"):
        parse_layers("conv3_2:0,conv4_2")
    with pytest.raises(ValueError, match="'x' of conv3_2 is not a number"):
        parse_layers("conv3_2:x")
