"""How well images keep a layout: a segmenter labels them and its labels are scored against the
layout, as the image-synthesis papers do (mIoU, per-class IoU, pixel accuracy).

Scores count over a whole set of images (one confusion matrix): IoU of class c = TP / (TP + FP +
FN); mIoU averages the classes present in the set's layouts (a class no layout has is left out, as
the Cityscapes scripts do); pixel accuracy = right pixels / labelled pixels. Void layout pixels
(black, or a colour outside the class table) are left out.

Segmenters (both give logits in the data root's class order, 0..K-1):
- OwnSegmenter: the project's own (segmentation.py), trained on the root's training images.
- SavedModelSegmenter: a TensorFlow SavedModel the user has: its serving signature takes one input,
  float32 [N, H, W, 3] images in 0..255 (RGB), and returns one output (or one named "logits"),
  [N, h, w, K] logits. Images go in at the evaluated level's size; logits of another size are
  resized bilinearly to the layout's before the argmax.
"""

import logging

import numpy as np
import tensorflow as tf

import errors
import folders
import training
from segmentation_network import SegmentationNetwork

LOG = logging.getLogger("sims")


def confusion(prediction, truth, class_count):
    """[K, K] pixel counts, row = layout class, column = predicted class; void layout pixels (any
    value >= K) left out."""
    labelled = truth < class_count
    pairs = truth[labelled].astype(np.int64) * class_count + prediction[labelled]
    return np.bincount(pairs, minlength=class_count ** 2).reshape(class_count, class_count)


def scores(matrix):
    """{"miou", "pixel_accuracy", "iou": [K] (nan for a class absent from the layouts)} of a
    confusion matrix."""
    matrix = np.asarray(matrix, np.float64)
    right, in_layout, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(in_layout > 0, right / (in_layout + predicted - right), np.nan)
    return {"miou": float(np.nanmean(iou)) if (in_layout > 0).any() else float("nan"),
            "pixel_accuracy": float(right.sum() / matrix.sum()) if matrix.sum() else float("nan"),
            "iou": iou}


class Segmenter:
    """index_map(image, shape): the class index map (uint8, 0..K-1) of an HxWx3 image in 0..255
    at a layout's shape; description: what it is, for the printed protocol."""

    class_count: int
    description: str

    def logits(self, images):
        raise NotImplementedError

    def index_map(self, image, shape):
        logits = self.logits(tf.constant(image[None], tf.float32))
        if logits.shape[-1] != self.class_count:
            raise errors.DataError(f"{self.description}: gives {logits.shape[-1]} logits a pixel, the data root's "
                                   f"class table has {self.class_count} classes")
        if tuple(logits.shape[1:3]) != tuple(shape):
            logits = tf.image.resize(logits, shape, method="bilinear")
        return tf.argmax(logits[0], axis=-1, output_type=tf.int32).numpy().astype(np.uint8)


class OwnSegmenter(Segmenter):
    """The newest checkpoint of segmentation.py at a level of a data root (restore_options: those of
    training.restore_for_test, for its test phase's results)."""

    def __init__(self, root, level_name, classes, **restore_options):
        self.class_count = classes.count
        self.network = SegmentationNetwork(classes.count)
        folder = root / folders.segmentation_model(level_name)
        checkpoint = training.restore_for_test(folder, self.network, classes, **restore_options)
        self.description = f"the project's own segmenter ({folder.name}, {checkpoint.rsplit('/', 1)[-1]})"
        self._network = tf.function(self.network)

    def logits(self, images):
        return self._network(images)


class SavedModelSegmenter(Segmenter):
    def __init__(self, path, classes):
        self.class_count = classes.count
        try:
            model = tf.saved_model.load(str(path))
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise errors.DataError(f"{path}: not a TensorFlow SavedModel ({str(error).splitlines()[0]})") from None
        signatures = getattr(model, "signatures", {})
        if "serving_default" not in signatures:
            raise errors.DataError(f"{path}: the SavedModel has no serving_default signature")
        self._function = signatures["serving_default"]
        inputs = self._function.structured_input_signature[1]
        if len(inputs) != 1:
            raise errors.DataError(f"{path}: its serving signature takes {len(inputs)} inputs ({', '.join(inputs)}); "
                                   "expected one, the images")
        self._input = next(iter(inputs))
        self._model = model   # the signature holds its variables only while the model lives
        self.description = f"SavedModel {path}"

    def logits(self, images):
        outputs = self._function(**{self._input: images})
        if len(outputs) != 1 and "logits" not in outputs:
            raise errors.DataError(f"{self.description}: its serving signature returns {', '.join(outputs)}; "
                                   "expected one output, or one named logits")
        return outputs["logits"] if "logits" in outputs else next(iter(outputs.values()))
