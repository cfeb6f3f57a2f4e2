"""The MATLAB image operations the original's steps use, reproduced to the pixel: imresize's
nearest neighbour, bwlabel's numbering, edge(..., 'Sobel', 0) and imdilate with a square (each
compared with MATLAB's results under Octave; tests/test_matlab_image_ops.py)."""

import functools

import numpy as np
import scipy.ndimage


@functools.lru_cache(maxsize=64)   # the steps resize many masks between the same few sizes
def _matlab_nearest_indices(in_size, out_size):
    """Source index (0-based) of each output pixel, with MATLAB's own double arithmetic.

    imresize maps output pixel x (1-based) to u = x/scale + 0.5*(1 - 1/scale), scale = out/in,
    and the nearest kernel takes the pixel c with -0.5 <= u - c < 0.5. Exact ties (u - c = -0.5)
    go to the higher pixel; OpenCV's fixed-point INTER_NEAREST_EXACT can differ there.
    """
    scale = out_size / in_size
    u = np.arange(1, out_size + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    candidates = np.floor(u - 0.5)[:, None] + np.arange(3)[None, :]
    offset = u[:, None] - candidates
    first_inside = np.argmax((offset >= -0.5) & (offset < 0.5), axis=1)
    chosen = np.clip(candidates[np.arange(out_size), first_inside].astype(np.int64) - 1, 0, in_size - 1)
    chosen.flags.writeable = False   # shared by every caller through the cache
    return chosen


def resize_nearest(array, shape):
    """imresize(array, shape, 'nearest') of MATLAB: samples at pixel centres.

    Works on any dtype and any number of trailing channels (resizes the first two axes).
    """
    array = np.asarray(array)
    rows = _matlab_nearest_indices(array.shape[0], shape[0])
    cols = _matlab_nearest_indices(array.shape[1], shape[1])
    return array.take(rows, axis=0).take(cols, axis=1)   # one axis at a time: far faster than a 2-D gather


_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def connected_components(mask):
    """bwlabel(mask) of MATLAB: 8-connected components numbered in column-major scan order.

    Returns (labels int32 HxW with 0 = background, number of components). scipy numbers
    components in row-major order, so labelling the transpose gives MATLAB's numbering.
    """
    labels, count = scipy.ndimage.label(np.asarray(mask, dtype=bool).T, structure=_EIGHT_CONNECTED)
    return np.ascontiguousarray(labels.T), int(count)


def sobel_edge(mask):
    """edge(mask, 'Sobel', 0) of MATLAB: one-pixel Sobel boundary of a binary mask.

    Gradients by the Sobel kernel (scaled by 1/8, replicated border); a pixel is an edge when
    its squared magnitude is above 0 and it is a local maximum across the dominant gradient
    direction, not lower than its left/upper neighbour and strictly higher than its right/lower
    one (MATLAB's thinning rule; out-of-image neighbours never block).
    """
    image = np.asarray(mask, dtype=np.float64)
    padded = np.pad(image, 1, mode="edge")
    # Correlation with [1 2 1; 0 0 0; -1 -2 -1]/8 (rows) and its transpose (columns).
    smooth_cols = padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]
    smooth_rows = padded[:-2, :] + 2 * padded[1:-1, :] + padded[2:, :]
    grad_y = (smooth_cols[:-2, :] - smooth_cols[2:, :]) / 8
    grad_x = (smooth_rows[:, :-2] - smooth_rows[:, 2:]) / 8
    magnitude = grad_x ** 2 + grad_y ** 2
    grad_x, grad_y = np.abs(grad_x), np.abs(grad_y)

    padded_mag = np.pad(magnitude, 1, mode="constant", constant_values=-np.inf)
    left, right = padded_mag[1:-1, :-2], padded_mag[1:-1, 2:]
    up, down = padded_mag[:-2, 1:-1], padded_mag[2:, 1:-1]
    tolerance = 100 * np.finfo(np.float64).eps
    horizontal = (grad_x >= grad_y - tolerance) & (left <= magnitude) & (magnitude > right)
    vertical = (grad_y >= grad_x - tolerance) & (up <= magnitude) & (magnitude > down)
    return (magnitude > 0) & (horizontal | vertical)


def dilate_square(mask, width):
    """imdilate(mask, strel('square', width)) of MATLAB, for binary masks.

    For an even width MATLAB's origin is element floor((width + 1) / 2), which is exactly the
    window scipy's maximum_filter uses, so no origin shift is needed.
    """
    mask = np.asarray(mask, dtype=bool)
    if width <= 1:
        return mask.copy()
    return scipy.ndimage.maximum_filter(mask, size=int(width), mode="constant", cval=False)

