"""The synthesis network (a cascaded refinement network with an encoder) and its loss, one
definition for the three resolutions of the original.

Input: the (K + 1)-channel label (K classes and void), the canvas RGB (0..1) and the canvas mask,
K + 5 channels at the level's size (24 for Cityscapes' 19 classes). The encoder-decoder runs
on the input resized by 1/scale (scale 1 at level 1 "256", 2 at level 2 "512", 4 at level 4
"1024"): six conv stacks (2x64, 2x128, 3x256, 3x512, 3x512, 3x512), each followed by 3x3
stride-2 average pooling; the decoder climbs back, at each
level concatenating the input resized there, the encoder's pooled features and the upsampled
decoder output, two convs (512 channels, 256 at the finest), bilinear upsampling (corners
aligned); then g_decoder_final (2x256) on [input, decoder]. Level 1 ends with 1x1 convs to RGB
and to K + 1 semantic logits. Level 2 upsamples, concatenates the full-size input and adds
g_decoder_512 (2x128) before them. Level 4 does that at half size, turns it into RGB there,
upsamples the RGB, concatenates the full-size input and ends with one 1x1 conv; its logits stay
at half size, and its half-size input is resized without aligning corners, as the original.
Every size is taken from the input, so any base height from 32 works.
"""

import tensorflow as tf

from network_blocks import ConvStack, glorot_uniform, pool

ENCODER = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512), (3, 512))
DECODER_WIDTHS = (256, 512, 512, 512, 512, 512)    # g_decoder_conv1 .. g_decoder_conv6
SCALES = {1: 1, 2: 2, 4: 4}
# CRN loss: (layer, weight); the label is resized to each layer's size.
LOSS_WEIGHTS = (("input", 1.0), ("conv1_2", 1 / 2.6), ("conv2_2", 1 / 4.8), ("conv3_2", 1 / 3.7),
                ("conv4_2", 1 / 5.6), ("conv5_2", 10 / 1.5))
SEMANTIC_WEIGHT = 10.0


def resize_to(x, like):
    """Bilinear resize (corners aligned, as the original) of x to the height and width of `like`."""
    return tf.raw_ops.ResizeBilinear(images=x, size=tf.shape(like)[1:3], align_corners=True)


def downscale(x, factor, align_corners=True):
    if factor == 1:
        return x
    return tf.raw_ops.ResizeBilinear(images=x, size=tf.shape(x)[1:3] // factor, align_corners=align_corners)


def nearest_to(x, like):
    """TF1's resize_nearest_neighbor (no corner alignment): output pixel i takes input floor(i * in/out)."""
    return tf.raw_ops.ResizeNearestNeighbor(images=x, size=tf.shape(like)[1:3], align_corners=False,
                                            half_pixel_centers=False)


class OutputConv(tf.Module):
    """slim.conv2d(x, channels, [1, 1], activation_fn=None): a 1x1 convolution with bias."""

    def __init__(self, in_channels, out_channels, name):
        super().__init__(name=name)
        with self.name_scope:
            self.weights = tf.Variable(glorot_uniform((1, 1, in_channels, out_channels)), name="weights")
            self.biases = tf.Variable(tf.zeros([out_channels]), name="biases")

    def __call__(self, x):
        return tf.nn.conv2d(x, self.weights, strides=1, padding="VALID") + self.biases


class SynthesisNetwork(tf.Module):
    def __init__(self, level, class_count, recompute=False):
        """recompute: every conv stack recomputes its activations in the backward pass (--recompute)."""
        super().__init__(name=f"synthesis_{level}")
        self.level, self.scale, self.class_count = level, SCALES[level], class_count
        inputs, logits = class_count + 5, class_count + 1
        widths = [inputs] + [width for _, width in ENCODER]
        self.encoder = [ConvStack(count, widths[i], width, f"g_encoder_conv{i + 1}", recompute)
                        for i, (count, width) in enumerate(ENCODER)]
        # decoder level i sees the input, encoder level i and the decoder level below (none at the coarsest)
        from_below = [DECODER_WIDTHS[i + 1] if i + 1 < len(ENCODER) else 0 for i in range(len(ENCODER))]
        self.decoder = [ConvStack(2, inputs + ENCODER[i][1] + from_below[i], DECODER_WIDTHS[i],
                                  f"g_decoder_conv{i + 1}", recompute) for i in range(len(ENCODER))]
        self.final = ConvStack(2, inputs + DECODER_WIDTHS[0], 256, "g_decoder_final", recompute)
        if level == 1:
            self.to_rgb = OutputConv(256, 3, "g_256_conv100")
            self.to_semantic = OutputConv(256, logits, "g_semantic_256_conv100")
        else:
            self.refine = ConvStack(2, inputs + 256, 128, "g_decoder_512", recompute)
            self.to_rgb = OutputConv(128, 3, "g_512_conv100")
            self.to_semantic = OutputConv(128, logits, "g_semantic_512")
        if level == 4:
            self.to_rgb_full = OutputConv(inputs + 3, 3, "g_1024_conv100")

    def refinement_input(self, full):
        """The input at half size, where g_decoder_512 works (levels 2 and 4): the 1024 script
        resizes it without aligning corners (input_512), unlike every other resize."""
        return downscale(full, self.scale // 2, align_corners=False)

    def __call__(self, label, canvas, canvas_mask):
        """(RGB in 0..255 [N,H,W,3], semantic logits [N,h,w,20]) of a label [N,H,W,20], a canvas
        [N,H,W,3] in 0..1 and its mask [N,H,W,1]."""
        full = tf.concat([label, canvas, canvas_mask], axis=3)
        base = downscale(full, self.scale)
        pooled, x = [], base
        for stack in self.encoder:
            x = pool(stack(x), "avg")
            pooled.append(x)
        net = None
        for i in reversed(range(len(self.encoder))):
            parts = [resize_to(full, pooled[i]), pooled[i]] + ([resize_to(net, pooled[i])] if net is not None else [])
            net = self.decoder[i](tf.concat(parts, axis=3))
        net = self.final(tf.concat([base, resize_to(net, base)], axis=3))
        if self.level == 1:
            return (self.to_rgb(net) + 1.0) / 2.0 * 255.0, self.to_semantic(net)
        half = self.refinement_input(full)
        net = self.refine(tf.concat([half, resize_to(net, half)], axis=3))
        rgb, logits = self.to_rgb(net), self.to_semantic(net)
        if self.level == 4:
            rgb = self.to_rgb_full(tf.concat([full, resize_to(rgb, full)], axis=3))
        return (rgb + 1.0) / 2.0 * 255.0, logits


def label_weighted_error(real, fake, label):
    """Per image [N]: sum over label channels of the mean over pixels of label x mean-over-channels
    |real - fake| (the original's formula, whose mean also ran over its batch of one)."""
    error = tf.reduce_mean(tf.abs(fake - real), axis=3, keepdims=True)
    return tf.reduce_sum(tf.reduce_mean(resize_to(label, error) * error, axis=[1, 2]), axis=1)


def synthesis_loss(vgg, real_image, generated, logits, label, clean_label, vgg_weight_scale=1.0, contextual=None):
    """{term: [N] per image}, "total" included: the CRN perceptual loss (label-weighted L1 on the
    images and five VGG layers) plus 10 x the softmax cross-entropy of the logits against the clean
    label. vgg_weight_scale multiplies the VGG terms (see vgg_features for the VGG16 calibration).
    contextual (a contextual_loss.ContextualLoss that is enabled) adds the term "contextual" on the
    same VGG features."""
    terms = {"input": LOSS_WEIGHTS[0][1] * label_weighted_error(real_image, generated, label)}
    target = clean_label
    if generated.shape[1] != logits.shape[1]:
        # level 4, as the original: the pixel term above is at full size, VGG sees the half-size
        # images (input_reduce), the semantic target is the clean label's nearest neighbour there
        real_image, generated = resize_to(real_image, logits), resize_to(generated, logits)
        target = nearest_to(clean_label, logits)
    real_features, fake_features = vgg(real_image), vgg(generated)
    for layer, weight in LOSS_WEIGHTS[1:]:
        terms[layer] = weight * vgg_weight_scale * label_weighted_error(real_features[layer], fake_features[layer],
                                                                          label)
    if contextual is not None and contextual.enabled:
        terms["contextual"] = contextual(fake_features, real_features)
    terms["semantic"] = SEMANTIC_WEIGHT * tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits), axis=[1, 2])
    terms["total"] = tf.add_n(list(terms.values()))
    return terms
