"""The networks' optimizer is the original's tf.train.AdamOptimizer: its update and its epsilon,
with Keras' Adam's slots, so that checkpoints written before keep restoring."""

import keras
import numpy as np
import tensorflow as tf

import distribution


def _train(optimizer, gradients, start, keras_variable=True):
    variable = keras.Variable(start) if keras_variable else tf.Variable(start)
    if keras_variable:
        optimizer.build([variable])
    for gradient in gradients:
        optimizer.apply_gradients([(tf.constant(gradient), variable)])
    return np.asarray(variable.numpy())


def _case(scale, seed=0):
    rng = np.random.default_rng(seed)
    start = rng.normal(size=(5, 7)).astype(np.float32)
    return start, [(rng.normal(size=(5, 7)) * scale).astype(np.float32) for _ in range(20)]


def test_it_takes_the_steps_of_the_originals_adam():
    start, gradients = _case(1.0)
    original = _train(tf.compat.v1.train.AdamOptimizer(1e-3), gradients, start, keras_variable=False)
    np.testing.assert_allclose(_train(distribution.adam(1e-3), gradients, start), original, rtol=0, atol=1e-6)


def test_its_epsilon_is_the_originals_not_keras_default():
    # gradients of 1e-7 make sqrt(v) as small as epsilon, where 1e-8 and Keras' 1e-7 part ways
    start, gradients = _case(1e-7)
    original = _train(tf.compat.v1.train.AdamOptimizer(1e-3), gradients, start, keras_variable=False)
    ours = _train(distribution.adam(1e-3), gradients, start)
    keras_default = _train(keras.optimizers.Adam(1e-3), gradients, start)
    np.testing.assert_allclose(ours - start, original - start, rtol=1e-4)
    assert np.abs((keras_default - start) - (original - start)).max() > 0.1 * np.abs(original - start).max()


def test_a_checkpoint_of_keras_adam_restores_into_it(tmp_path):
    start, gradients = _case(1.0)
    variable = keras.Variable(start)
    before = keras.optimizers.Adam(1e-3)
    before.build([variable])
    before.apply_gradients([(tf.constant(gradients[0]), variable)])
    path = tf.train.Checkpoint(variable=variable.value, optimizer=before).save(str(tmp_path / "ckpt"))
    restored = keras.Variable(np.zeros_like(start))
    after = distribution.adam(1e-3)
    after.build([restored])
    tf.train.Checkpoint(variable=restored.value, optimizer=after).restore(path).assert_existing_objects_matched()
    assert int(after.iterations.numpy()) == 1
    def momentum(optimizer):
        return next(np.asarray(v.numpy()) for v in optimizer.variables if v.path.endswith("momentum"))
    assert momentum(before).any()
    np.testing.assert_array_equal(momentum(after), momentum(before))
