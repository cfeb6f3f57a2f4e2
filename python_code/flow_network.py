"""The appearance-flow aligner (Zhou, Tulsiani, Sun, Malik, Efros, ECCV 2016), the first item of
the original release's Todo list: instead of one affine warp per retrieved segment, a dense field
that says for every output pixel where to sample the segment, so it can bend a segment to the
query's shape.

Input per proposal, as the transformer's: its RGB in [0, 1], its target mask and the (K + 1)-channel
label, resized (bilinear, corners aligned) to 1/input_scale of the image. Four conv stacks (2x64,
2x128, 3x256, 3x256) with 3x3 stride-2 pooling between them (average after the first, max after
the others) bring it to 1/8 of that size, where a 3x3 convolution with bias, initialised to zero,
gives two offsets (dx, dy) per cell in units of one cell (input_scale x 8 image pixels). The
field is upsampled bilinearly to the image and the proposal sampled there (spatial_transformer.
flow_warp: bilinear, zeros off the image). A zero field is the identity, so training starts from
"no change", as the transformer's does.
"""

import tensorflow as tf

from network_blocks import ConvStack, merge_first_axes, pool
from spatial_transformer import flow_warp
from transform_network import aligner_input, transform_loss, warp_training_batch

STACKS = ((2, 64), (2, 128), (3, 256), (3, 256))
POOLINGS = ("avg", "max", "max")   # between the stacks


class FlowNetwork(tf.Module):
    def __init__(self, class_count, input_scale=2):
        super().__init__(name="flow_network")
        self.input_scale, self.class_count = input_scale, class_count
        self.cell = input_scale * 2 ** len(POOLINGS)   # image pixels per coarse cell: the offsets' unit
        widths = [class_count + 5] + [width for _, width in STACKS]
        self.stacks = [ConvStack(count, widths[i], width, f"g_flow_conv{i + 1}") for i, (count, width) in enumerate(STACKS)]
        with tf.name_scope("g_flow_offsets"):
            self.offset_weights = tf.Variable(tf.zeros([3, 3, STACKS[-1][1], 2]), name="weights")
            self.offset_bias = tf.Variable(tf.zeros([2]), name="biases")

    def offsets(self, proposals, masks, label):
        """Offsets [N,H,W,2] (dx, dy) in pixels of proposals [N,H,W,3] (0..1) with masks [N,H,W,1]
        and the label [1 or N,H,W,K+1] of their image(s)."""
        x = aligner_input(proposals, masks, label, self.input_scale)
        for stack, pooling in zip(self.stacks, POOLINGS + (None,)):
            x = stack(x)
            if pooling:
                x = pool(x, pooling)
        coarse = tf.nn.conv2d(x, self.offset_weights, strides=1, padding="SAME") + self.offset_bias
        return tf.raw_ops.ResizeBilinear(images=coarse * float(self.cell), size=tf.shape(proposals)[1:3],
                                         align_corners=True)

    def __call__(self, proposals, masks, label):
        """(warped proposals, offsets)."""
        offsets = self.offsets(proposals, masks, label)
        return flow_warp(proposals, offsets), offsets


def total_variation(offsets):
    """Per field [N]: mean absolute difference of neighbouring offsets, across and down (pixels per pixel)."""
    across = tf.reduce_mean(tf.abs(offsets[:, :, 1:] - offsets[:, :, :-1]), axis=[1, 2, 3])
    down = tf.reduce_mean(tf.abs(offsets[:, 1:] - offsets[:, :-1]), axis=[1, 2, 3])
    return across + down


def spill(support, offsets, masks):
    """Per image [B]: what the warped segments cover outside their own target masks, in the alignment
    loss's 0..255 units: 255 x that area over the masks' area (+1, as the alignment loss), so a pixel
    put outside its mask costs as much as a wholly wrong pixel inside it. support [B,P,H,W,1]: where
    each proposal has content, warped with its offsets [B*P,H,W,2]; masks [B,P,H,W,1]."""
    warped = tf.reshape(flow_warp(merge_first_axes(support), offsets), tf.shape(support))
    outside = tf.reduce_sum(warped * (1.0 - masks), axis=[1, 2, 3, 4])
    return 255.0 * outside / (tf.reduce_sum(masks, axis=[1, 2, 3, 4]) + 1.0)


def batch_losses(network, batch, smoothness_weight, outside_weight=0.0):
    """({"alignment", "smoothness", "outside", "total": [B]}, {}) of a training batch (transform_network.
    warp_training_batch): the transformer's loss on the warped proposals, which sees only the pixels
    inside the target masks; smoothness_weight x the total variation of the offsets averaged over
    the image's proposals (the padding ones included, which only pulls their unused fields towards
    zero); and outside_weight x the spill, what the warped segments put outside their masks."""
    warped, offsets, masks, real_image = warp_training_batch(network, batch)
    alignment = transform_loss(real_image, warped, masks)
    smoothness = smoothness_weight * tf.reduce_mean(tf.reshape(total_variation(offsets), tf.shape(masks)[:2]), axis=1)
    losses = {"alignment": alignment, "smoothness": smoothness}
    if outside_weight:
        support = tf.cast(tf.reduce_max(batch["proposals"], axis=-1, keepdims=True) > 0, tf.float32)
        losses["outside"] = outside_weight * spill(support, offsets, masks)
    return {**losses, "total": tf.add_n(list(losses.values()))}, {}
