"""The ordering network: which of two overlapping segments is in front (the original's
proposal_classifier).

Input per pair: the pair's colour mask and the whole colour label, both RGB / 255, 6 channels at
level 1. The pooled trunk (conv stacks 2x64 ... 3x512), a global average, a 1x1 conv to 1024
(layer norm, lrelu), dropout 0.5 while training, and a 1x1 conv with bias to K + 1 logits (20 for
Cityscapes' K = 19 classes); logit c scores "class c is in front" (c = 1..K, logit 0 is never a
target).
"""

import tensorflow as tf

from network_blocks import ConvLayerNorm, PooledTrunk, glorot_uniform

CITYSCAPES_CLASS_COUNT = 19
NUM_LOGITS = CITYSCAPES_CLASS_COUNT + 1
DROPOUT_RATE = 0.5


class OrderNetwork(tf.Module):
    def __init__(self, class_count=CITYSCAPES_CLASS_COUNT):
        super().__init__(name="order_network")
        self.logit_count = class_count + 1
        self.trunk = PooledTrunk(6, [f"g_selection_conv{i}" for i in range(1, 6)])
        self.hidden = ConvLayerNorm(512, 1024, kernel_size=1, name="g_selection_conv6")
        with tf.name_scope("g_selection_classify"):
            self.classify_weights = tf.Variable(glorot_uniform((1, 1, 1024, self.logit_count)), name="weights")
            self.classify_biases = tf.Variable(tf.zeros([self.logit_count]), name="biases")

    def __call__(self, pair_masks, labels, dropout_seed=None):
        """Logits [N, K + 1] of pair masks [N,H,W,3] and labels [N,H,W,3] (0..1). With a dropout_seed
        ([2] int) the network is in training mode and drops half of the hidden units."""
        x = self.trunk(tf.concat([pair_masks, labels], axis=3))
        x = self.hidden(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        if dropout_seed is not None:
            x = tf.nn.experimental.stateless_dropout(x, rate=DROPOUT_RATE, seed=dropout_seed)
        logits = tf.nn.conv2d(x, self.classify_weights, strides=1, padding="VALID") + self.classify_biases
        return tf.reshape(logits, [-1, self.logit_count])


def order_loss(logits, front_classes):
    """Mean softmax cross-entropy against the class in front."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=front_classes, logits=logits))


def make_train_step(network, optimizer):
    @tf.function(reduce_retracing=True)
    def train_step(pair_masks, labels, front_classes, dropout_seed):
        with tf.GradientTape() as tape:
            loss = order_loss(network(pair_masks, labels, dropout_seed), front_classes)
        gradients = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        return loss
    return train_step
