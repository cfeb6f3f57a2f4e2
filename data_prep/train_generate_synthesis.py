"""Step 7 (train_generate_synthesis.m): training canvases of the synthesis network.

Reads  traindata/original_segment/CC/NAME.mat (the memory bank, via traindata/segment_index/),
       traindata/RGB256Full|RGB512Full|RGB1024Full (the image at the level), traindata/label_refine
Writes traindata/synthesis/traindata_synthesis_<level>_<2 level>/ for each random set SS = 01..
       (--sets; the original's 5 at 256 and 512, 2 at 1024), at --level 256|512|1024 (default 512):
         traindata_mat/SS/NAME.mat   proposal (HxWx3 uint8, the canvas), mask (HxW uint8, how many
                                     of the image's segments cover each pixel)
         traindata_label/SS/NAME.png the label with void holes where the retrieved shape or a
                                     slightly rotated and shifted copy of the segment leaves it
                                     (each segment first writes its own class back, back to front)
For each segment above the area threshold, classes back to front: of RANDOM_DRAWS random other
training images, the segment of the same class with the best IoU gives a shape; the canvas piece
is the image's OWN pixels inside (segment AND that shape AND the retrieved image's label is the
class), so the target stays right while the shape carries retrieval error. With probability
COLOUR_TRANSFER_CHANCE the query's box takes the retrieved image's colours under the retrieved
shape (colour_transfer.py). A random half of the piece's boundary band turns white (elision);
pieces are pasted back to front.
"""

import math

import cv2
import numpy as np

import canvas as canvas_ops
import class_table
import colour_transfer
import command_line
import data_root
import file_io
import folders
import labels
import matlab_image_ops
import per_image_runner
import segment_index
import segments

SETS = {"256": 5, "512": 5, "1024": 2}   # random sets per image at each level (num_files, num_folder)
RANDOM_DRAWS = 100
COLOUR_TRANSFER_CHANCE = 0.2
ELISION_BAND = 0.05       # of the image height
ROTATION_DEGREES = 5.0    # the label's segment copy turns by up to +-2.5 degrees
SUBPIXEL_SHIFT = 0.0675   # and moves by up to +-0.034 pixels (imtranslate, linear): it grows by a pixel
LABEL_FOLDER = folders.TRAIN_LABELS
SEGMENT_FOLDER = folders.MEMORY_BANK


def output_folder(root, level_name):
    return root / folders.synthesis_training(level_name)


def set_files(root, image_id, level_name, set_number):
    """(canvas .mat, revised label .png) of one random set."""
    folder, name = output_folder(root, level_name), data_root.image_name(image_id)
    return (folder / "traindata_mat" / f"{set_number:02d}" / f"{name}.mat",
            folder / "traindata_label" / f"{set_number:02d}" / f"{name}.png")


def output_files(root, image_id, level_name, sets):
    return [path for s in range(1, sets + 1) for path in set_files(root, image_id, level_name, s)]


def linear_shift_support(mask, shift_x, shift_y):
    """Where imtranslate(mask, [shift_x, shift_y]) with its default linear interpolation is not 0:
    a sub-pixel shift spreads every pixel onto its neighbours in the shift's direction, so the
    mask grows by one pixel on those sides."""
    grown = mask.copy()
    for axis, shift in ((1, shift_x), (0, shift_y)):
        if shift:
            step = 1 if shift > 0 else -1
            moved = np.roll(grown, step, axis=axis)
            np.moveaxis(moved, axis, 0)[0 if step > 0 else -1] = False   # nothing wraps round
            grown |= moved
    return grown


def perturbed_copy(mask, rng):
    """The original's noisy copy of a segment for the label: imrotate(mask, angle, 'nearest') with
    MATLAB's loose frame, imtranslate by a sub-pixel shift (the original's translation is scaled
    by size() of a scalar, 1, so at most 0.034 pixels), cut back to the image size at a random
    place. Draws angle, shift x, shift y, crop row, crop column, in the original's order."""
    degrees = (rng.random() - 0.5) * ROTATION_DEGREES
    shift_x, shift_y = (rng.random() - 0.5) * SUBPIXEL_SHIFT, (rng.random() - 0.5) * SUBPIXEL_SHIFT
    height, width = mask.shape
    angle = math.radians(degrees)
    loose_h = int(math.ceil(height * abs(math.cos(angle)) + width * abs(math.sin(angle))))
    loose_w = int(math.ceil(width * abs(math.cos(angle)) + height * abs(math.sin(angle))))
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    matrix[:, 2] += ((loose_w - width) / 2, (loose_h - height) / 2)
    loose = cv2.warpAffine(mask.astype(np.uint8), matrix, (loose_w, loose_h), flags=cv2.INTER_NEAREST) > 0
    loose = linear_shift_support(loose, shift_x, shift_y)
    top = rng.integers(loose_h - height + 1)
    left = rng.integers(loose_w - width + 1)
    return loose[top:top + height, left:left + width]


def revise_label(label, perturbations):
    """The training label of one set. Segments in back-to-front order, (class, segment mask,
    where its perturbation spills or None): each first writes its own class back where it is
    (so a front segment regains pixels an earlier one's perturbation voided, as the original),
    then voids the pixels its perturbed copy or retrieved shape covers outside it."""
    revised = label.copy()
    for class_id, query_up, spill in perturbations:
        revised[query_up & (label == class_id - 1)] = class_id - 1
        if spill is not None:
            revised[spill & ~query_up] = class_table.VOID_INDEX
    return revised


def canvas_piece(image, valid, retrieved_shape, query_up, recolour_from=None):
    """The image's own pixels under `valid`; recoloured (recolour_from: the retrieved image), the
    query's box holds the whole image recoloured under the retrieved shape, as the original, so
    the piece may reach past the segment where that shape overshoots it."""
    piece = canvas_ops.masked(image, valid)
    if recolour_from is not None:
        box = canvas_ops.box_around(query_up, 0)
        piece[box] = colour_transfer.transfer_image(image[box], recolour_from[box]) * retrieved_shape[box][:, :, None]
    return piece


def retrieve_piece(query, query_up, class_id, draws, index, root, level_shape, train_ids, classes):
    """(where the piece may take the image's own pixels, the best drawn shape, the retrieved image
    id), all at the level; Nones when no drawn segment overlaps the query."""
    row = index.best_in_images(query, draws)
    if row is None:
        return None, None, None
    shape_up = matlab_image_ops.resize_nearest(index.mask(row), level_shape)
    source_id = train_ids[index.image[row] - 1]
    source_label = matlab_image_ops.resize_nearest(
        labels.read_label(root / LABEL_FOLDER / f"{data_root.image_name(source_id)}.png", classes=classes), level_shape)
    return query_up & shape_up & (source_label == class_id - 1), shape_up, source_id


def image_segments(root, sizes, image_id, order, shape):
    """(class, segment mask at level 1, the same at the level) of every segment, back to front."""
    found = []
    for class_id in order:
        (masks,) = segments.read_segment_masks(segments.segment_file(root / SEGMENT_FOLDER, class_id, image_id),
                                               sizes.shape(1), names=("library_mask",))
        found += [(class_id, masks[:, :, j] > 0, matlab_image_ops.resize_nearest(masks[:, :, j] > 0, shape))
                  for j in range(masks.shape[2])]
    return found


def process_image(image_id, root, sizes, classes, level_name, sets, seed, train_ids, index_folder, order,
                  colour_transfer_chance):
    level = data_root.LEVELS[level_name]
    shape = sizes.shape(level)
    image_folder = root / folders.train_images(level_name)
    name = data_root.image_name(image_id)
    image = file_io.read_image(image_folder / f"{name}.png", shape=shape) / 255.0
    label = matlab_image_ops.resize_nearest(labels.read_label(root / LABEL_FOLDER / f"{name}.png", shape=sizes.shape(1),
                                                    classes=classes), shape)
    index = segment_index.SegmentIndex(index_folder, sizes)
    others = np.array([p for p in range(1, len(train_ids) + 1) if train_ids[p - 1] != image_id])
    band = canvas_ops.band_width(ELISION_BAND, shape[0])
    found = image_segments(root, sizes, image_id, order, shape)
    coverage = sum((query_up.astype(np.int64) for _, _, query_up in found), np.zeros(shape, np.int64))

    for set_number in range(1, sets + 1):
        mat_path, label_path = set_files(root, image_id, level_name, set_number)
        rng = per_image_runner.image_rng(seed, image_id, set_number)
        canvas = np.zeros(shape + (3,))
        perturbations = []
        for class_id, query, query_up in found:
            if query.sum() <= sizes.area_threshold or not others.size:
                perturbations.append((class_id, query_up, None))
                continue
            valid, shape_up, source_id = retrieve_piece(query, query_up, class_id, rng.choice(others, RANDOM_DRAWS),
                                                        index.of_class(class_id), root, shape, train_ids, classes)
            spill = np.zeros(shape, bool)
            if valid is not None:
                recolour_from = None
                if rng.random() < colour_transfer_chance:
                    recolour_from = file_io.read_image(image_folder / f"{data_root.image_name(source_id)}.png",
                                                      shape=shape) / 255.0
                piece = canvas_piece(image, valid, shape_up, query_up, recolour_from)
                # elided and pasted in the piece's box grown by the band: the same pixels and random
                # draws as on the whole image (the box keeps the pixels' order), far fewer to touch
                box = canvas_ops.box_around(query_up if recolour_from is not None else valid, band + 2)
                if box is not None:
                    canvas_ops.paste(canvas[box], canvas_ops.elide(piece[box], band, rng, inside_only=False))
                spill |= shape_up
            perturbations.append((class_id, query_up, spill | perturbed_copy(query_up, rng)))
        file_io.save_mat(mat_path, {"proposal": np.round(canvas * 255).astype(np.uint8),
                                   "mask": np.clip(coverage, 0, 255).astype(np.uint8)})
        file_io.write_image(label_path, labels.index_to_label(revise_label(label, perturbations), classes))


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    command_line.add_level_argument(parser)
    parser.add_argument("--sets", type=command_line.positive_int,
                        help="random sets per image (default: the original's 5 at 256 and 512, 2 at 1024)")
    parser.add_argument("--colour-transfer-chance", type=float, default=COLOUR_TRANSFER_CHANCE,
                        help="share of pieces given the retrieved image's colours (default 0.2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.sets is None:
        args.sets = SETS[args.level]
    root = args.root.resolve()
    index_folder = segment_index.prepare_index(root, data_root.load_sizes(root))
    per_image_runner.run_step(args, f"synthesis training canvases {args.level}", LABEL_FOLDER, process_image,
                    lambda root_, image_id: output_files(root_, image_id, args.level, args.sets),
                    level_name=args.level, sets=args.sets, seed=args.seed,
                    colour_transfer_chance=args.colour_transfer_chance,
                    order=class_table.class_order(root, class_table.load_classes(root)),
                    train_ids=data_root.list_image_ids(root / segment_index.TRAIN_IMAGE_FOLDER), index_folder=index_folder)


if __name__ == "__main__":
    command_line.run_cli(main)
