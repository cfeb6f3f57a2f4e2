"""The building block the SIMS networks share, in TensorFlow 2.

The original builds every network from slim.conv2d(..., normalizer_fn=slim.layer_norm,
activation_fn=lrelu): a 3x3 convolution without bias, layer normalisation over H, W and C of
each sample with a per-channel scale and offset, then max(0.2x, x). slim.repeat stacks n of them
under one scope, naming them SCOPE/SCOPE_1, SCOPE/SCOPE_2, ... Variables here carry the same
names (weights, LayerNorm/gamma, LayerNorm/beta) so checkpoints of the original can be mapped.

Mixed precision (--mixed-precision): conv stacks compute in the Keras policy's compute dtype
(bfloat16 or float16) with their float32 weights cast on use, layer normalisation's statistics stay
float32, and every stack hands float32 on, so that resizes, warps, heads and losses are float32.
Under the default float32 policy every cast is a no-op.
"""

import keras
import tensorflow as tf

LAYER_NORM_EPSILON = 1e-12  # slim.layer_norm's default


def compute_dtype():
    """The dtype conv stacks compute in: the Keras policy's (float32 unless mixed precision)."""
    return tf.as_dtype(keras.mixed_precision.global_policy().compute_dtype)


def lrelu(x):
    return tf.maximum(0.2 * x, x)


def glorot_uniform(shape):
    """slim's default initialiser. Drawn with tf.random so tf.random.set_seed makes it reproducible
    (Keras initialisers follow Keras' own seed instead)."""
    fan_in, fan_out = shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return tf.random.uniform(shape, -limit, limit)


def layer_norm(x, gamma, beta):
    """Normalise each sample over all of H, W, C; then a per-channel scale and offset (in float32,
    returned in x's dtype)."""
    x32 = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(x32, axes=[1, 2, 3], keepdims=True)
    return tf.cast((x32 - mean) * tf.math.rsqrt(variance + LAYER_NORM_EPSILON) * gamma + beta, x.dtype)


class ConvLayerNorm(tf.Module):
    """slim.conv2d with layer norm and lrelu: conv (no bias) -> layer norm -> lrelu."""

    def __init__(self, in_channels, out_channels, kernel_size=3, name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.weights = tf.Variable(glorot_uniform((kernel_size, kernel_size, in_channels, out_channels)),
                                       name="weights")
            with tf.name_scope("LayerNorm"):
                self.gamma = tf.Variable(tf.ones([out_channels]), name="gamma")
                self.beta = tf.Variable(tf.zeros([out_channels]), name="beta")

    def __call__(self, x):
        x = tf.nn.conv2d(x, tf.cast(self.weights, x.dtype), strides=1, padding="SAME")
        return lrelu(layer_norm(x, self.gamma, self.beta))


def recomputed(function, enabled=True):
    """`function`, or with `enabled` the same function whose activations are not kept for the
    backward pass but computed again there (tf.recompute_grad, gradient checkpointing): the same
    values and gradients for less memory and more time (--recompute, benchmarks/bench_memory.py)."""
    return tf.recompute_grad(function) if enabled else function


class ConvStack(tf.Module):
    """slim.repeat(x, count, conv+layer norm+lrelu, channels, [3, 3], scope=name); computes in the
    policy's dtype of when it was made, takes and returns float32. recompute: keep only its input
    for the backward pass (recomputed)."""

    def __init__(self, count, in_channels, out_channels, name, recompute=False):
        super().__init__(name=name)
        self.dtype = compute_dtype()
        with self.name_scope:
            self.layers = [ConvLayerNorm(in_channels if i == 0 else out_channels, out_channels, name=f"{name}_{i + 1}")
                           for i in range(count)]
        self._forward = recomputed(self._layers, recompute)

    def _layers(self, x):
        x = tf.cast(x, self.dtype)
        for layer in self.layers:
            x = layer(x)
        return tf.cast(x, tf.float32)

    def __call__(self, x):
        return self._forward(x)


def one_hot_labels(index, class_count):
    """Class index maps (0..K-1; any other value is void) -> float32 maps with K class channels and
    void = 1 - their sum. Made in the graph, so that the input pipeline moves one byte a pixel
    instead of K + 1 floats."""
    channels = tf.one_hot(tf.cast(index, tf.int32), class_count, dtype=tf.float32)
    return tf.concat([channels, 1.0 - tf.reduce_sum(channels, axis=-1, keepdims=True)], axis=-1)


def merge_first_axes(x):
    """[B, P, ...] -> [B * P, ...]: the items of a batch of images (proposals, pairs) as one batch."""
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def pool(x, kind):
    """3x3 pooling with stride 2 and SAME padding (slim.avg_pool2d / max_pool2d as the original)."""
    if kind == "avg":
        return tf.nn.avg_pool2d(x, ksize=3, strides=2, padding="SAME")
    return tf.nn.max_pool2d(x, ksize=3, strides=2, padding="SAME")


class PooledTrunk(tf.Module):
    """The trunk of the transformation and ordering networks: conv stacks 2x64, 2x128, 3x256,
    3x512, 3x512, each followed by pooling (average after the first, max after the others)."""

    STACKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))

    def __init__(self, in_channels, scope_names, name=None):
        super().__init__(name=name)
        widths = [in_channels] + [width for _, width in self.STACKS]
        self.stacks = [ConvStack(count, widths[i], width, scope_names[i])
                       for i, (count, width) in enumerate(self.STACKS)]

    def __call__(self, x):
        for i, stack in enumerate(self.stacks):
            x = pool(stack(x), "avg" if i == 0 else "max")
        return x
