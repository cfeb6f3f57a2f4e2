"""What the training and test canvases share: boundary bands, elision and pasting (steps 7, 8).

A canvas is HxWx3 float in 0..1; black (0, 0, 0) means "nothing here, paint it", and white
pixels on a segment's boundary ("elision") tell the synthesis network the boundary is uncertain.
"""

import functools

import numpy as np

import matlab_image_ops

ELISION_RATIO = 0.5  # share of the band's pixels turned white


def band_width(fraction, height):
    """Square size of a band given as a fraction of the image height (MATLAB's floor)."""
    return int(np.floor(fraction * height))


def content_mask(pixels):
    """Where a piece has content: the sum of its channels is above 0 (as the original's sum(.., 3)).
    Channel by channel, as numpy's sum over three values adds them, because a sum over the last
    axis of a whole image is several times slower; unsigned pixels have content where any is not 0."""
    pixels = np.asarray(pixels)
    channels = [pixels[:, :, c] for c in range(pixels.shape[2])]
    if pixels.dtype.kind in "ub":   # no negative values (and uint8 sums would wrap round)
        return functools.reduce(np.bitwise_or, channels) != 0
    return functools.reduce(np.add, channels) > 0


def box_around(mask, margin):
    """The slices of the box of a mask's pixels grown by `margin` on every side (cut to the image),
    or None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    return (slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
            slice(max(cols[0] - margin, 0), cols[-1] + margin + 1))


def masked(pixels, mask, divisor=1.0):
    """pixels / divisor under the mask, 0 elsewhere (float), computed in the mask's box only."""
    piece = np.zeros(mask.shape + pixels.shape[2:])
    box = box_around(mask, 0)
    if box is not None:
        piece[box] = pixels[box] / divisor * mask[box][:, :, None]
    return piece


def boundary_band(mask, width):
    """The Sobel edge of a mask dilated by a square of the given width. Computed in the mask's box
    grown by the width and 2 pixels, which gives the whole image's result exactly: the edge lies
    within a pixel of the mask, its test looks one pixel further, and the dilation width / 2."""
    mask = np.asarray(mask, bool)
    band = np.zeros(mask.shape, bool)
    box = box_around(mask, width + 2)
    if box is not None:
        band[box] = matlab_image_ops.dilate_square(matlab_image_ops.sobel_edge(mask[box]), width)
    return band


def elide(piece, width, rng, inside_only):
    """Turn a random half of the piece's boundary band white (1.0). inside_only keeps it to the
    piece's own pixels (test canvases); the training canvases whiten the whole band."""
    present = content_mask(piece)
    band = boundary_band(present, width)
    if inside_only:
        band &= present
    positions = np.flatnonzero(band)
    chosen = positions[rng.permutation(len(positions))[:int(len(positions) * ELISION_RATIO)]]
    elided = piece.copy()
    elided.reshape(-1, 3)[chosen] = 1.0
    return elided


def paste(canvas, piece, region=None):
    """Paste a piece into the canvas (in place, and returned): where the piece has content, or
    anywhere in `region`, the canvas takes the piece (so region pixels without content become holes)."""
    cover = content_mask(piece)
    if region is not None:
        cover |= region
    box = box_around(cover, 0)
    if box is not None:
        np.copyto(canvas[box], piece[box], where=cover[box][:, :, None])
    return canvas
