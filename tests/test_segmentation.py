"""The segmentation score: its confusion matrix and mIoU against a hand count, the project's own
segmenter learning the demo's classes, and a user's SavedModel (logits of another size, a wrong
class count)."""


import numpy as np
import pytest
import tensorflow as tf

import class_table
import data_root
import errors
import file_io
import folders
import labels
import make_demo_dataset
import segmentation
import segmentation_score

OWN_SEGMENTER_STEPS = 600
# on this tiny root (40 training images at 32x64) 600 steps reached 0.30 mIoU and 0.88 pixel
# accuracy; an untrained network labels nearly everything one class (mIoU about 0.02)
OWN_SEGMENTER_MIOU = 0.2
OWN_SEGMENTER_PIXEL_ACCURACY = 0.8


def test_confusion_and_scores_against_a_hand_count():
    truth = np.array([[0, 0, 1, 1],
                      [0, 2, 255, 1]], np.uint8)      # 255: void, left out; class 3 in no layout
    prediction = np.array([[0, 1, 1, 1],
                           [3, 2, 0, 1]], np.uint8)
    matrix = segmentation_score.confusion(prediction, truth, 4)
    assert matrix.sum() == 7 and matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[0, 3] == 1
    score = segmentation_score.scores(matrix)
    # class 0: 1 right, 3 in the layout, 1 predicted -> 1 / 3; class 1: 3 right of 3, 4 predicted -> 3 / 4;
    # class 2: 1 / 1; class 3: no layout pixel -> nan, left out of the mean
    np.testing.assert_allclose(score["iou"][:3], [1 / 3, 3 / 4, 1.0])
    assert np.isnan(score["iou"][3])
    assert score["miou"] == pytest.approx((1 / 3 + 3 / 4 + 1) / 3)
    assert score["pixel_accuracy"] == pytest.approx(5 / 7)


@pytest.fixture(scope="module")
def segmenter_root(module_folder):
    root = module_folder("segmenter")
    make_demo_dataset.main(["--root", str(root), "--train", "40", "--test", "8", "--base-height", "32", "--seed", "11"])
    return root


def test_the_own_segmenter_learns_the_demo_classes(segmenter_root, caplog):
    root = segmenter_root
    segmentation.main(["--train", "--root", str(root), "--max-steps", str(OWN_SEGMENTER_STEPS), "--save-every", "300"])
    with caplog.at_level("INFO", logger="sims"):
        segmentation.main(["--test", "--root", str(root)])
    classes = class_table.load_classes(root)
    shape = data_root.load_sizes(root).shape(1)
    written = sorted((root / folders.segmented("256")).glob("*.png"))
    assert len(written) == 8
    matrix = sum(segmentation_score.confusion(labels.read_label(path, classes, shape=shape),
                                              labels.read_label(root / folders.TEST_LABELS / path.name, classes,
                                                                shape=shape), classes.count) for path in written)
    score = segmentation_score.scores(matrix)
    assert score["miou"] > OWN_SEGMENTER_MIOU and score["pixel_accuracy"] > OWN_SEGMENTER_PIXEL_ACCURACY
    assert f"mIoU {score['miou']:.3f}, pixel accuracy {score['pixel_accuracy']:.3f}" in caplog.text


class RoadEverywhere(tf.Module):
    """A user's segmenter as a SavedModel: logits at half the size, the first class everywhere."""

    def __init__(self, class_count):
        super().__init__()
        self.class_count = class_count

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve(self, images):
        half = tf.image.resize(images, tf.shape(images)[1:3] // 2)[..., :1]
        return {"logits": tf.concat([tf.ones_like(half)] + [tf.zeros_like(half)] * (self.class_count - 1), axis=3)}


def export(module, folder):
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return folder


def test_a_saved_model_segmenter_is_resized_to_the_layout_and_must_give_the_root_classes(segmenter_root, tmp_path):
    classes = class_table.load_classes(segmenter_root)
    segmenter = segmentation_score.SavedModelSegmenter(export(RoadEverywhere(classes.count), tmp_path / "road"), classes)
    image = file_io.read_image(next((segmenter_root / folders.test_images("256")).glob("*.png")))
    index_map = segmenter.index_map(image, image.shape[:2])
    assert index_map.shape == image.shape[:2] and not index_map.any()
    wrong = segmentation_score.SavedModelSegmenter(export(RoadEverywhere(classes.count + 1), tmp_path / "wrong"), classes)
    with pytest.raises(errors.DataError, match=f"gives {classes.count + 1} logits a pixel, the data root's class table "
                                               f"has {classes.count}"):
        wrong.index_map(image, image.shape[:2])
    with pytest.raises(errors.DataError, match="not a TensorFlow SavedModel"):
        segmentation_score.SavedModelSegmenter(tmp_path, classes)

