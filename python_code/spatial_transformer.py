"""Differentiable warps in pixel coordinates: the affine warp (the transformation network's last
layer) and the dense flow warp (the appearance-flow aligner's).

The six parameters (a, b, tx, c, d, ty) map each output pixel, in coordinates centred on the
image (x = column - floor(W/2), y = row - floor(H/2)), to the source point
(a*x + b*y + tx, c*x + d*y + ty): translations are in pixels and (1, 0, 0, 0, 1, 0) is the
identity, as in the original. Sampling is bilinear. What a source point off the image gives:
  "zeros" (default, the original's sampler): the four neighbour indices are clipped to the image
      but the bilinear weights come from the unclipped point, so their terms cancel and the
      sample is 0 (black) wherever x is not in [0, W-1) or y not in [0, H-1): also on the last
      column and row, which come out 0 even under the identity.
  "clamp": the point is clamped to the border first, so edge pixels are repeated outwards.
The flow warp takes a source offset per output pixel instead and samples bilinearly with the image
surrounded by zeros: an offset of 0 gives the input exactly (last row and column included), a
whole-pixel offset moves it by exactly those pixels, and whatever comes from off the image is 0.
"""

import tensorflow as tf

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
OUTSIDE_MODES = ("zeros", "clamp")


def _neighbours_and_weights(position, size, outside):
    """(lower index, upper index, lower weight, upper weight) along one axis."""
    last = tf.cast(size - 1, tf.float32)
    if outside == "clamp":
        position = tf.clip_by_value(position, 0.0, last)
        lower = tf.floor(position)
        upper = tf.minimum(lower + 1, last)
        return lower, upper, 1 - (position - lower), position - lower
    lower = tf.clip_by_value(tf.floor(position), 0.0, last)
    upper = tf.clip_by_value(tf.floor(position) + 1, 0.0, last)
    return lower, upper, upper - position, position - lower


def affine_warp(images, theta, outside="zeros"):
    """Warp images [N, H, W, C] by per-image parameters theta [N, 6]."""
    if outside not in OUTSIDE_MODES:
        raise ValueError(f"outside must be one of {OUTSIDE_MODES}, not {outside!r}")
    images = tf.convert_to_tensor(images, tf.float32)
    theta = tf.reshape(tf.cast(theta, tf.float32), [-1, 2, 3])
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    height_f, width_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    centre_x, centre_y = tf.floor(width_f / 2), tf.floor(height_f / 2)

    ys, xs = tf.meshgrid(tf.range(height_f) - centre_y, tf.range(width_f) - centre_x, indexing="ij")
    grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([height * width])])  # 3 x HW
    source = tf.matmul(theta, tf.tile(grid[None], [batch, 1, 1]))                              # N x 2 x HW
    x0, x1, weight_x0, weight_x1 = _neighbours_and_weights(source[:, 0] + centre_x, width, outside)
    y0, y1, weight_y0, weight_y1 = _neighbours_and_weights(source[:, 1] + centre_y, height, outside)

    flat = tf.reshape(images, [batch, height * width, -1])

    def sample(row, col):
        index = tf.cast(row, tf.int32) * width + tf.cast(col, tf.int32)
        return tf.gather(flat, index, batch_dims=1)

    top = sample(y0, x0) * weight_x0[..., None] + sample(y0, x1) * weight_x1[..., None]
    bottom = sample(y1, x0) * weight_x0[..., None] + sample(y1, x1) * weight_x1[..., None]
    warped = top * weight_y0[..., None] + bottom * weight_y1[..., None]
    return tf.reshape(warped, shape)


def flow_warp(images, offsets):
    """Sample images [N, H, W, C] at (column + dx, row + dy) for offsets [N, H, W, 2] = (dx, dy) in
    pixels, bilinearly, with zeros off the image."""
    images = tf.convert_to_tensor(images, tf.float32)
    offsets = tf.cast(offsets, tf.float32)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    # one ring of zeros around the image; points further out are clamped onto it
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows, cols = tf.meshgrid(tf.range(tf.cast(height, tf.float32)), tf.range(tf.cast(width, tf.float32)),
                             indexing="ij")
    x = tf.clip_by_value(cols + offsets[..., 0] + 1.0, 0.0, tf.cast(width + 1, tf.float32))
    y = tf.clip_by_value(rows + offsets[..., 1] + 1.0, 0.0, tf.cast(height + 1, tf.float32))
    x0, y0 = tf.floor(x), tf.floor(y)
    weight_x1, weight_y1 = (x - x0)[..., None], (y - y0)[..., None]
    x1 = tf.minimum(x0 + 1, tf.cast(width + 1, tf.float32))
    y1 = tf.minimum(y0 + 1, tf.cast(height + 1, tf.float32))
    flat = tf.reshape(padded, [batch, (height + 2) * (width + 2), -1])

    def sample(row, col):
        index = tf.reshape(tf.cast(row, tf.int32) * (width + 2) + tf.cast(col, tf.int32), [batch, -1])
        return tf.reshape(tf.gather(flat, index, batch_dims=1), shape)

    top = sample(y0, x0) * (1 - weight_x1) + sample(y0, x1) * weight_x1
    bottom = sample(y1, x0) * (1 - weight_x1) + sample(y1, x1) * weight_x1
    return top * (1 - weight_y1) + bottom * weight_y1
