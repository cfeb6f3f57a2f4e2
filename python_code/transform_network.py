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

from network_blocks import PooledTrunk, merge_first_axes, one_hot_labels
from spatial_transformer import IDENTITY, affine_warp


def aligner_input(proposals, masks, label, input_scale):
    """What an aligner (this network, flow_network's) sees of proposals [N,H,W,3] (0..1) with masks
    [N,H,W,1] and the label [1 or N,H,W,K+1] of their image(s): the K + 5 channels side by side,
    resized (bilinear, corners aligned) to 1/input_scale."""
    count = tf.shape(proposals)[:1]
    x = tf.concat([proposals, masks, tf.broadcast_to(label, tf.concat([count, tf.shape(label)[1:]], 0))], axis=3)
    return tf.raw_ops.ResizeBilinear(images=x, size=tf.shape(x)[1:3] // input_scale, align_corners=True)


class TransformNetwork(tf.Module):
    def __init__(self, class_count, input_scale=2, outside="zeros"):
        super().__init__(name="transform_network")
        self.input_scale, self.outside, self.class_count = input_scale, outside, class_count
        # "g_transfrom_conv2" is the original's spelling, kept so its checkpoints map
        self.trunk = PooledTrunk(class_count + 5, ["g_transform_conv1", "g_transfrom_conv2", "g_transform_conv3",
                                      "g_transform_conv4", "g_transform_conv5"])
        self.affine_weights = tf.Variable(tf.zeros([512, 6]), name="g_transform_param")
        self.affine_bias = tf.Variable(tf.constant(IDENTITY), name="g_b_fc1")

    def parameters(self, proposals, masks, label):
        """Warp parameters [N, 6] of proposals [N,H,W,3] (0..1) with masks [N,H,W,1] and the label
        [1 or N,H,W,K+1] of their image(s)."""
        features = tf.reduce_mean(self.trunk(aligner_input(proposals, masks, label, self.input_scale)), axis=[1, 2])
        return tf.matmul(features, self.affine_weights) + self.affine_bias

    def __call__(self, proposals, masks, label, round_parameters=False):
        """(warped proposals, parameters). At test time the original rounds the parameters, so
        the warp moves whole pixels and never blurs the segment's pixels."""
        theta = self.parameters(proposals, masks, label)
        if round_parameters:
            theta = tf.round(theta)
        return affine_warp(proposals, theta, self.outside), theta


def transform_loss(real_image, warped, masks):
    """Per image [B]: mean absolute error (0..255 scale) between the real image [B,H,W,3] and the
    sum of its warped proposals [B,P,H,W,3] inside their target masks [B,P,H,W,1], over the pixels
    the masks cover (their sum, as the original; +1 keeps empty masks finite). Proposals with empty
    masks (the padding of images with fewer than P) change nothing."""
    coverage = tf.reduce_sum(masks, axis=1)
    composite = tf.reduce_sum(warped * masks, axis=1)
    error = tf.reduce_mean(tf.abs(composite * 255.0 - real_image), axis=3, keepdims=True)
    return tf.reduce_sum(error * coverage, axis=[1, 2, 3]) / (tf.reduce_sum(coverage, axis=[1, 2, 3]) + 1.0)


def warp_training_batch(network, batch):
    """(warped proposals [B,P,H,W,3], the aligner's other output for the B*P proposals, their masks
    [B,P,H,W,1], real images [B,H,W,3]) of a training batch (transformation.read_sample, stacked),
    all uint8: proposals [B,P,H,W,3], masks [B,P,H,W] (0/1), label_index [B,H,W], real_image [B,H,W,3]."""
    proposals = tf.cast(batch["proposals"], tf.float32) / 255.0
    masks = tf.cast(batch["masks"], tf.float32)[..., None]
    label = one_hot_labels(batch["label_index"], network.class_count)
    warped, other = network(merge_first_axes(proposals), merge_first_axes(masks),
                            tf.repeat(label, tf.shape(proposals)[1], axis=0))
    return tf.reshape(warped, tf.shape(proposals)), other, masks, tf.cast(batch["real_image"], tf.float32)


def batch_losses(network, batch):
    """({"loss": [B]}, {}) of a training batch (warp_training_batch)."""
    warped, _, masks, real_image = warp_training_batch(network, batch)
    return {"loss": transform_loss(real_image, warped, masks)}, {}
