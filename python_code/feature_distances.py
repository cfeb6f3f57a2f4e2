"""Distances between two sets of images through the features of a pretrained network: the
Fréchet distance (FID when the features are Inception-v3's pool_3) and the kernel distance (KID).

FID (Heusel et al. 2017): the two feature sets as Gaussians, ||mu1 - mu2||^2 + Tr(S1 + S2 -
2 sqrt(S1 S2)), in float64, the matrix square root by scipy with its small imaginary part dropped.
KID (Binkowski et al. 2018): the unbiased estimate of the squared MMD with the kernel
k(x, y) = (x.y / d + 1)^3, its mean and standard deviation over random subsets of both sets.

Features: InceptionPool3 reads the frozen graph of inception-2015-12-05.tgz
(classify_image_graph_def.pb), the file the reference FID code loads; it is never downloaded.
vgg16_pooled (evaluate.py) uses the VGG16 the project ships with LPIPS: those figures are named
FD-VGG16 and KID-VGG16, never FID.
"""

import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import tensorflow as tf
from google.protobuf.message import DecodeError

import errors

LOG = logging.getLogger("sims")
INCEPTION_INPUT = "ExpandDims:0"   # float [1, H, W, 3] in 0..255; the graph resizes to 299 itself
INCEPTION_FEATURES = "pool_3:0"    # [1, 1, 1, 2048]
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000   # the reference code's; evaluate.py takes half the smaller set when that is less
SQRTM_OFFSET = 1e-6   # added to the diagonals when S1 S2 is too singular for a finite square root


def frechet_distance(first, second):
    """Fréchet distance of two feature sets [N, D] and [M, D] seen as Gaussians (float64)."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    mean_difference = first.mean(axis=0) - second.mean(axis=0)
    covariance_1 = np.atleast_2d(np.cov(first, rowvar=False))
    covariance_2 = np.atleast_2d(np.cov(second, rowvar=False))
    with warnings.catch_warnings():   # a singular product (fewer images than features) is warned of by the caller
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(covariance_1 @ covariance_2)
    if not np.isfinite(root).all():
        LOG.warning("Fréchet distance: the product of the covariances is singular; offsetting the diagonals by %g",
                    SQRTM_OFFSET)
        offset = SQRTM_OFFSET * np.eye(len(covariance_1))
        root = scipy.linalg.sqrtm((covariance_1 + offset) @ (covariance_2 + offset))
    root = np.real(root)   # round-off leaves a tiny imaginary part
    return float(mean_difference @ mean_difference + np.trace(covariance_1) + np.trace(covariance_2)
                 - 2.0 * np.trace(root))


def polynomial_kernel(first, second):
    return (first @ second.T / first.shape[1] + 1.0) ** 3


def squared_mmd(first, second):
    """Unbiased estimate of the squared MMD of two samples [m, D] with the cubic polynomial kernel:
    the within-set means leave out the diagonal (each sample with itself)."""
    m, n = len(first), len(second)
    within_1, within_2 = polynomial_kernel(first, first), polynomial_kernel(second, second)
    return float((within_1.sum() - np.trace(within_1)) / (m * (m - 1))
                 + (within_2.sum() - np.trace(within_2)) / (n * (n - 1))
                 - 2.0 * polynomial_kernel(first, second).mean())


def kernel_distance(first, second, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0):
    """(mean, standard deviation) of squared_mmd over `subsets` random draws of subset_size features
    from each set (without replacement within a draw; the whole sets when they are smaller)."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    size = min(subset_size, len(first), len(second))
    if size < 2:
        raise errors.DataError(f"the kernel distance needs 2 images or more in each set, got {len(first)} and "
                               f"{len(second)}")
    rng = np.random.default_rng(seed)
    values = [squared_mmd(first[rng.choice(len(first), size, replace=False)],
                          second[rng.choice(len(second), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InceptionPool3:
    """The 2048 pool_3 features of Inception-v3 from the frozen graph of inception-2015-12-05.tgz,
    one image at a time (the graph was frozen for a batch of one)."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            graph_def = tf.compat.v1.GraphDef()
            graph_def.ParseFromString(self.path.read_bytes())
        except (OSError, DecodeError) as error:
            raise errors.DataError(f"{self.path}: not a readable frozen TensorFlow graph ({error})") from None
        names = {node.name for node in graph_def.node}
        for tensor in (INCEPTION_INPUT, INCEPTION_FEATURES):
            if tensor.split(":")[0] not in names:
                raise errors.DataError(f"{self.path}: no tensor {tensor}; expected classify_image_graph_def.pb "
                                       "from inception-2015-12-05.tgz")
        self.sha256 = file_sha256(self.path)
        # imported first into an empty graph, the graph keeps the file's GraphDef version, under which
        # its BatchNormWithGlobalNormalization ops (removed in version 9) still run; the image is fed
        # straight into ExpandDims:0, as the reference code does
        self._graph = tf.Graph()
        with self._graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        self._session = tf.compat.v1.Session(graph=self._graph)

    def __call__(self, image):
        """The feature vector of an HxWx3 image in 0..255."""
        return self._session.run(INCEPTION_FEATURES,
                                 {INCEPTION_INPUT: np.asarray(image, np.float32)[None]}).reshape(-1)
