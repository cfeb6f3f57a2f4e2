"""The project's own segmenter: a small encoder-decoder from the SIMS networks' block (3x3
convolution, layer norm, lrelu; network_blocks.ConvStack), for scoring how well synthesized images
keep their layout when the user has no segmenter of their own. Not a SIMS network: the original
has none; its numbers are not comparable with the papers' DRN-D-105 or PSPNet scores.

Four stacks of two layers (32, 64, 128, 256 channels) with 2x max pooling between them, then three
stacks back up (bilinear upsampling, joined with the encoder's map of that size), and a 1x1
convolution with bias to one logit per class of the data root's table. Images of any size whose
sides are multiples of 8; the input is RGB in 0..255.
"""

import tensorflow as tf

from network_blocks import ConvStack, glorot_uniform, pool

ENCODER_WIDTHS = (32, 64, 128, 256)
SCALE_STEPS = len(ENCODER_WIDTHS) - 1   # poolings by 2: sides must be multiples of 2 ** SCALE_STEPS


class SegmentationNetwork(tf.Module):
    def __init__(self, class_count):
        super().__init__(name="segmentation_network")
        self.class_count = class_count
        widths = (3,) + ENCODER_WIDTHS
        self.encoder = [ConvStack(2, widths[i], widths[i + 1], f"seg_down{i + 1}") for i in range(len(ENCODER_WIDTHS))]
        self.decoder = [ConvStack(2, ENCODER_WIDTHS[i + 1] + ENCODER_WIDTHS[i], ENCODER_WIDTHS[i], f"seg_up{i + 1}")
                        for i in reversed(range(SCALE_STEPS))]
        with tf.name_scope("seg_classify"):
            self.classify_weights = tf.Variable(glorot_uniform((1, 1, ENCODER_WIDTHS[0], class_count)), name="weights")
            self.classify_biases = tf.Variable(tf.zeros([class_count]), name="biases")

    def __call__(self, images):
        """Logits [N, H, W, K] of images [N, H, W, 3] in 0..255."""
        x, skips = images / 127.5 - 1.0, []
        for i, stack in enumerate(self.encoder):
            x = stack(pool(x, "max") if i else x)
            skips.append(x)
        for stack, skip in zip(self.decoder, reversed(skips[:-1])):
            x = stack(tf.concat([tf.image.resize(x, tf.shape(skip)[1:3]), skip], axis=3))
        return tf.nn.conv2d(x, self.classify_weights, strides=1, padding="VALID") + self.classify_biases


def batch_losses(network, batch):
    """({"loss": [B]}, {}) of a batch: image [B,H,W,3] uint8 and index [B,H,W] uint8 (class 0..K-1,
    anything else void, left out). An image's loss is its mean softmax cross-entropy over its
    labelled pixels."""
    index = tf.cast(batch["index"], tf.int32)
    labelled = tf.cast(index < network.class_count, tf.float32)
    logits = network(tf.cast(batch["image"], tf.float32))
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.minimum(index, network.class_count - 1), logits=logits)
    return {"loss": tf.reduce_sum(cross_entropy * labelled, axis=[1, 2])
            / tf.maximum(tf.reduce_sum(labelled, axis=[1, 2]), 1.0)}, {}
