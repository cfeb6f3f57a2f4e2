"""The contextual loss (Mechrez, Talmi, Zelnik-Manor, ECCV 2018), an option of the synthesis
network: the second item of the original release's Todo list.

It compares the generated and the real image's VGG features as two sets of positions, whatever
their place in the image, so a pasted segment that does not line up with the ground truth pixel for
pixel is not punished for where its texture sits. For X (generated, positions i) and Y (real,
positions j) of one layer:
    centre both by the mean of Y over its positions, scale each position's vector to unit length,
    d_ij = 1 - <x_i, y_j>,  d~_ij = d_ij / (min_k d_ik + 1e-5),  w_ij = exp((1 - d~_ij) / h),
    CX_ij = w_ij / sum_k w_ik,  CX(X, Y) = mean_j max_i CX_ij,  term = -log CX(X, Y).
Each sample is compared with its own real image (its own mean), so that a sample's term does not
depend on the batch it came in or on how the batch is split over devices. The cost is quadratic in
the positions: both maps are average-pooled by 2 (the same way) until they have at most
max_positions. Cosine distances make the term independent of the VGG's input scale, so VGG19 and
VGG16 need no calibration here (unlike the perceptual terms).
"""

import dataclasses

import tensorflow as tf

from vgg_features import LOSS_LAYERS

DISTANCE_EPSILON = 1e-5   # the paper's epsilon of the relative distance


@dataclasses.dataclass(frozen=True)
class ContextualLoss:
    weight: float = 0.0                      # 0 = off: the original's loss
    layers: tuple = ("conv3_2", "conv4_2")   # any of vgg_features.LOSS_LAYERS
    bandwidth: float = 0.5                   # h
    max_positions: int = 4096                # per feature map, after pooling
    layer_weights: tuple = ()                # one per layer (CoCosNet: 2, 4, 8); empty = 1 each

    def __post_init__(self):
        unknown = [layer for layer in self.layers if layer not in LOSS_LAYERS]
        if unknown or not self.layers:
            raise ValueError(f"contextual layers must be some of {','.join(LOSS_LAYERS)}, not {','.join(self.layers)}")
        if self.weight < 0 or self.bandwidth <= 0 or self.max_positions < 1:
            raise ValueError("the contextual weight must be >= 0, the bandwidth > 0 and max_positions >= 1")
        if self.layer_weights and (len(self.layer_weights) != len(self.layers) or min(self.layer_weights) <= 0):
            raise ValueError(f"the contextual layer weights must be {len(self.layers)} numbers > 0 (one per layer), "
                             f"not {', '.join(map(str, self.layer_weights))}")
        # from here on one weight per layer, whether given or not (the dataclass is frozen)
        object.__setattr__(self, "layer_weights", tuple(map(float, self.layer_weights)) or (1.0,) * len(self.layers))

    @property
    def enabled(self):
        return self.weight > 0

    def layers_text(self):
        """The layers as --contextual-layers reads them: "conv3_2,conv4_2", with ":weight" after
        each name unless every weight is 1 (so folders trained before layer weights still match)."""
        if all(weight == 1 for weight in self.layer_weights):
            return ",".join(self.layers)
        return ",".join(f"{layer}:{weight:g}" for layer, weight in zip(self.layers, self.layer_weights))

    def record(self):
        """What a model folder records of the option (training.check_training_options): the weight
        alone when it is off, since the other settings then change nothing."""
        if not self.enabled:
            return {"contextual_weight": self.weight}
        return {"contextual_weight": self.weight, "contextual_layers": self.layers_text(),
                "contextual_bandwidth": self.bandwidth, "contextual_max_positions": self.max_positions}

    def __call__(self, generated_features, real_features):
        """weight x the sum over the layers of layer weight x -log CX, per sample [N], of two
        {layer: [N,H,W,C]}."""
        terms = [layer_weight * contextual_term(pool_to_at_most(generated_features[layer], self.max_positions),
                                                pool_to_at_most(real_features[layer], self.max_positions),
                                                self.bandwidth)
                 for layer, layer_weight in zip(self.layers, self.layer_weights)]
        return self.weight * tf.add_n(terms)


def parse_layers(text):
    """(layers, layer weights) of "conv3_2,conv4_2" or "conv3_2:2,conv4_2:4" (a layer without a
    weight has 1). Raises ValueError naming what is wrong."""
    layers, weights = [], []
    for item in filter(None, (part.strip() for part in text.split(","))):
        layer, _, weight = item.partition(":")
        try:
            weights.append(float(weight) if weight else 1.0)
        except ValueError:
            raise ValueError(f"contextual layer weight {weight!r} of {layer} is not a number") from None
        layers.append(layer.strip())
    checked = ContextualLoss(layers=tuple(layers), layer_weights=tuple(weights))
    return checked.layers, checked.layer_weights


def pool_to_at_most(features, max_positions):
    """2x2 average pooling of [N,H,W,C] features, repeated until H x W <= max_positions."""
    height, width = features.shape[1], features.shape[2]
    if height is None or width is None:
        raise ValueError("the contextual loss needs feature maps of a known size")
    while height * width > max_positions:
        features = tf.nn.avg_pool2d(features, ksize=2, strides=2, padding="SAME")
        height, width = features.shape[1], features.shape[2]
    return features


def contextual_similarity(generated, real, bandwidth):
    """CX(X, Y) per sample [N] of generated [N,H,W,C] and real [N,H',W',C] features."""
    generated, real = (tf.cast(tf.reshape(x, [tf.shape(x)[0], -1, x.shape[-1]]), tf.float32)
                       for x in (generated, real))
    centre = tf.reduce_mean(real, axis=1, keepdims=True)
    x = tf.math.l2_normalize(generated - centre, axis=2)
    y = tf.math.l2_normalize(real - centre, axis=2)
    # rounding can push a cosine a hair past 1; a distance is never negative
    distance = tf.maximum(1.0 - tf.matmul(x, y, transpose_b=True), 0.0)            # [N, i, j]
    relative = distance / (tf.reduce_min(distance, axis=2, keepdims=True) + DISTANCE_EPSILON)
    # w_ij / sum_k w_ik is a softmax over j: computed stably, whatever the size of (1 - d~) / h
    similarity = tf.nn.softmax((1.0 - relative) / bandwidth, axis=2)
    return tf.reduce_mean(tf.reduce_max(similarity, axis=1), axis=1)


def contextual_term(generated, real, bandwidth):
    """-log CX(X, Y) per sample [N]. Each row of CX sums to 1, so CX(X, Y) >= 1 / (positions of Y)
    and the logarithm is finite."""
    return -tf.math.log(contextual_similarity(generated, real, bandwidth))
