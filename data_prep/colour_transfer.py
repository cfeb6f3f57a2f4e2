"""Linear Monge-Kantorovitch colour transfer (Pitie and Kokaram, 2007), from the formula.

Given the colour covariances A (source) and B (target), the linear map with the least squared
displacement that turns the source distribution's covariance into B is
    T = A^-1/2 (A^1/2 B A^1/2)^1/2 A^-1/2,
applied as x -> (x - mean_source) T + mean_target. The training canvases use it to give a
segment's own pixels the colours of the retrieved segment, so the synthesis network learns to
correct colour mismatches.
"""

import numpy as np

# Added to covariance eigenvalues: a flat colour (zero covariance) or a handful of pixels must not
# make the inverse square root blow up.
EIGEN_FLOOR = 1e-6


def _symmetric_power(matrix, power):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    values = np.maximum(values, 0) + EIGEN_FLOOR
    return (vectors * values ** power) @ vectors.T


def transfer_pixels(source, target):
    """Source pixels (N x 3) recoloured to the mean and covariance of the target pixels (M x 3)."""
    source = np.asarray(source, np.float64).reshape(-1, 3)
    target = np.asarray(target, np.float64).reshape(-1, 3)
    if len(source) == 0 or len(target) == 0:
        return source.copy()
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_cov = np.cov(source, rowvar=False, bias=True) if len(source) > 1 else np.zeros((3, 3))
    target_cov = np.cov(target, rowvar=False, bias=True) if len(target) > 1 else np.zeros((3, 3))
    root = _symmetric_power(source_cov, 0.5)
    inverse_root = _symmetric_power(source_cov, -0.5)
    mapping = inverse_root @ _symmetric_power(root @ target_cov @ root, 0.5) @ inverse_root
    return (source - source_mean) @ mapping + target_mean


def transfer_image(source, target):
    """HxWx3 source image (0..1) with the colour statistics of the target image, clipped to 0..1."""
    source = np.asarray(source, np.float64)
    return np.clip(transfer_pixels(source, target).reshape(source.shape), 0, 1)
