"""The transformation network: predicts an affine warp that aligns each retrieved segment with
the query segment it stands for (the original's proposal_transform and its loss).

Input per proposal: its RGB in [0, 1], its target mask and the (K + 1)-channel label, K + 5
channels (24 for Cityscapes' 19 classes),
resized (bilinear, corners aligned) to 1/input_scale of the image. Five conv stacks (2x64, 2x128,
3x256, 3x512, 3x512), each followed by 3x3 stride-2 pooling (average after the first, max after
the others), a global average to 512 numbers, and a linear layer to the 6 warp parameters whose
weights start at zero and whose bias is the identity, so training starts from "no change".
"""

import tensorflow as tf

from network_blocks import PooledTrunk
from spatial_transformer import IDENTITY, affine_warp


class TransformNetwork(tf.Module):
    def __init__(self, input_scale=2, outside="zeros", class_count=19):
        super().__init__(name="transform_network")
        self.input_scale, self.outside = input_scale, outside
        # "g_transfrom_conv2" is the original's spelling, kept so its checkpoints map
        self.trunk = PooledTrunk(class_count + 5, ["g_transform_conv1", "g_transfrom_conv2", "g_transform_conv3",
                                      "g_transform_conv4", "g_transform_conv5"])
        self.affine_weights = tf.Variable(tf.zeros([512, 6]), name="g_transform_param")
        self.affine_bias = tf.Variable(tf.constant(IDENTITY), name="g_b_fc1")

    def parameters(self, proposals, masks, label):
        """Warp parameters [N, 6] of proposals [N,H,W,3] (0..1) with masks [N,H,W,1], label [1,H,W,K+1]."""
        count = tf.shape(proposals)[0]
        x = tf.concat([proposals, masks, tf.tile(label, [count, 1, 1, 1])], axis=3)
        size = tf.shape(x)[1:3] // self.input_scale
        x = tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=True)
        features = tf.reduce_mean(self.trunk(x), axis=[1, 2])
        return tf.matmul(features, self.affine_weights) + self.affine_bias

    def __call__(self, proposals, masks, label, round_parameters=False):
        """(warped proposals, parameters). At test time the original rounds the parameters, so
        the warp moves whole pixels and never blurs the segment's pixels."""
        theta = self.parameters(proposals, masks, label)
        if round_parameters:
            theta = tf.round(theta)
        return affine_warp(proposals, theta, self.outside), theta


def composite(warped, masks):
    """Sum over proposals of each warped proposal inside its target mask: [1, H, W, 3]."""
    return tf.reduce_sum(warped * masks, axis=0, keepdims=True)


def transform_loss(real_image, warped, masks):
    """Mean absolute error (0..255 scale) between the real image and the composite, over the
    pixels the target masks cover (their sum, as the original; +1 keeps empty masks finite)."""
    coverage = tf.reduce_sum(masks, axis=0, keepdims=True)
    error = tf.reduce_mean(tf.abs(composite(warped, masks) * 255.0 - real_image), axis=3, keepdims=True)
    return tf.reduce_sum(error * coverage) / (tf.reduce_sum(coverage) + 1.0)


def make_train_step(network, optimizer):
    @tf.function(reduce_retracing=True)
    def train_step(proposals, masks, label, real_image):
        with tf.GradientTape() as tape:
            warped, _ = network(proposals, masks, label)
            loss = transform_loss(real_image, warped, masks)
        gradients = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        return loss
    return train_step
