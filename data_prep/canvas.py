"""What the training and test canvases share: boundary bands, elision and pasting (steps 7, 8).

A canvas is HxWx3 float in 0..1; black (0, 0, 0) means "nothing here, paint it", and white
pixels on a segment's boundary ("elision") tell the synthesis network the boundary is uncertain.
"""

import numpy as np

import matlab_image_ops

ELISION_RATIO = 0.5  # share of the band's pixels turned white


def band_width(fraction, height):
    """Square size of a band given as a fraction of the image height (MATLAB's floor)."""
    return int(np.floor(fraction * height))


def content_mask(pixels):
    """Where a piece has content (any channel non-zero)."""
    return np.asarray(pixels).sum(axis=2) > 0


def boundary_band(mask, width):
    """The Sobel edge of a mask dilated by a square of the given width."""
    return matlab_image_ops.dilate_square(matlab_image_ops.sobel_edge(mask), width)


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
    """Paste a piece: where it has content, or anywhere in `region`, the canvas takes the piece
    (so region pixels without content become holes)."""
    cover = content_mask(piece)
    if region is not None:
        cover |= region
    return np.where(cover[:, :, None], piece, canvas)
