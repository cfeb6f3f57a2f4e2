"""Differentiable affine warp in pixel coordinates (the transformation network's last layer).

The six parameters (a, b, tx, c, d, ty) map each output pixel, in coordinates centred on the
image (x = column - floor(W/2), y = row - floor(H/2)), to the source point
(a*x + b*y + tx, c*x + d*y + ty): translations are in pixels and (1, 0, 0, 0, 1, 0) is the
identity, as in the original. Sampling is bilinear, with coordinates clamped to the border.
"""

import tensorflow as tf

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def affine_warp(images, theta):
    """Warp images [N, H, W, C] by per-image parameters theta [N, 6]."""
    images = tf.convert_to_tensor(images, tf.float32)
    theta = tf.reshape(tf.cast(theta, tf.float32), [-1, 2, 3])
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    height_f, width_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    centre_x, centre_y = tf.floor(width_f / 2), tf.floor(height_f / 2)

    ys, xs = tf.meshgrid(tf.range(height_f) - centre_y, tf.range(width_f) - centre_x, indexing="ij")
    grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([height * width])])  # 3 x HW
    source = tf.matmul(theta, tf.tile(grid[None], [batch, 1, 1]))                              # N x 2 x HW
    x = tf.clip_by_value(source[:, 0] + centre_x, 0.0, width_f - 1)
    y = tf.clip_by_value(source[:, 1] + centre_y, 0.0, height_f - 1)

    x0, y0 = tf.floor(x), tf.floor(y)
    x1, y1 = tf.minimum(x0 + 1, width_f - 1), tf.minimum(y0 + 1, height_f - 1)
    weight_x, weight_y = (x - x0)[..., None], (y - y0)[..., None]

    flat = tf.reshape(images, [batch, height * width, -1])

    def sample(row, col):
        index = tf.cast(row, tf.int32) * width + tf.cast(col, tf.int32)
        return tf.gather(flat, index, batch_dims=1)

    top = sample(y0, x0) * (1 - weight_x) + sample(y0, x1) * weight_x
    bottom = sample(y1, x0) * (1 - weight_x) + sample(y1, x1) * weight_x
    warped = top * (1 - weight_y) + bottom * weight_y
    return tf.reshape(warped, shape)
