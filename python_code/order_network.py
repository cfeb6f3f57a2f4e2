"""The ordering network: which of two overlapping segments is in front (the original's
proposal_classifier).

Input per pair: the pair's colour mask and the whole colour label, both RGB / 255, 6 channels at
level 1. The pooled trunk (conv stacks 2x64 ... 3x512), a global average, a 1x1 conv to 1024
(layer norm, lrelu), dropout 0.5 while training, and a 1x1 conv with bias to K + 1 logits (20 for
Cityscapes' K = 19 classes); logit c scores "class c is in front" (c = 1..K, logit 0 is never a
target).
"""

import tensorflow as tf

from network_blocks import ConvLayerNorm, PooledTrunk, glorot_uniform, merge_first_axes

DROPOUT_RATE = 0.5
HIDDEN_UNITS = 1024


class OrderNetwork(tf.Module):
    def __init__(self, class_count, pool_window=None):
        """pool_window: None pools the last feature map globally (the port's own models); [8, 12]
        is the original's fixed VALID average window (its models, import_original_models.py), one
        cell at the original's 256x512, whose last 4 of 16 columns it never sees."""
        super().__init__(name="order_network")
        self.logit_count, self.pool_window = class_count + 1, pool_window
        self.trunk = PooledTrunk(6, [f"g_selection_conv{i}" for i in range(1, 6)])
        self.hidden = ConvLayerNorm(512, HIDDEN_UNITS, kernel_size=1, name="g_selection_conv6")
        with tf.name_scope("g_selection_classify"):
            self.classify_weights = tf.Variable(glorot_uniform((1, 1, HIDDEN_UNITS, self.logit_count)),
                                                name="weights")
            self.classify_biases = tf.Variable(tf.zeros([self.logit_count]), name="biases")

    def __call__(self, pair_masks, labels, dropout_keep=None):
        """Logits [N, K + 1] of pair masks [N,H,W,3] and labels [N,H,W,3] (0..1). With dropout_keep
        ([N, HIDDEN_UNITS], 1 = keep) the network is in training mode and drops the hidden units
        marked 0, scaling the rest by 1 / (1 - DROPOUT_RATE)."""
        x = self.trunk(tf.concat([pair_masks, labels], axis=3))
        if self.pool_window is not None:
            x = tf.nn.avg_pool2d(x, self.pool_window, self.pool_window, padding="VALID")
        x = self.hidden(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        if dropout_keep is not None:
            x = x * tf.reshape(dropout_keep, [-1, 1, 1, HIDDEN_UNITS]) / (1.0 - DROPOUT_RATE)
        logits = tf.nn.conv2d(x, self.classify_weights, strides=1, padding="VALID") + self.classify_biases
        return tf.reshape(logits, [-1, self.logit_count])


def batch_losses(network, batch):
    """({"loss": [B]}, {}) of a training batch (order.read_sample, stacked): pair_masks [B,P,H,W,3] and
    the colour label [B,H,W,3] as uint8, front [B,P] (the class in front), pair_weight [B,P]
    (0 = padding), dropout_keep [B,P,HIDDEN_UNITS]. An image's loss is the mean softmax
    cross-entropy over its pairs."""
    pair_masks, weight = tf.cast(batch["pair_masks"], tf.float32) / 255.0, batch["pair_weight"]
    label = tf.cast(batch["label"], tf.float32) / 255.0
    count = tf.shape(pair_masks)[1]

    logits = network(merge_first_axes(pair_masks), tf.repeat(label, count, axis=0),
                     merge_first_axes(batch["dropout_keep"]))
    cross_entropy = tf.reshape(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.reshape(batch["front"], [-1]), logits=logits), tf.shape(weight))
    return {"loss": tf.reduce_sum(cross_entropy * weight, axis=1)
            / tf.maximum(tf.reduce_sum(weight, axis=1), 1.0)}, {}
