"""Step 4 (train_generate_transform.m): training pairs of the transformation network.

Reads  traindata/original_segment/CC/NAME.mat (library_mask, level 1), traindata/RGB512Full/NAME.png
Writes traindata/transform/transform_512/SS/NAME.mat for each random set SS = 01.. (--sets, 2):
       proposal (NxHxWx3 uint8) every segment of area > the threshold cut from the level-2 image
       and perturbed; mask (NxHxW uint8) the segments' true masks; proposal_gt (NxHxWx3 uint8)
       the unperturbed cut. The network learns to undo the perturbation.
Perturbation as the original: a random scale in 0.9..1.1 (bicubic) about the box centre, kept only
when it stays in the frame, then a random shift of (rand - 0.5)/16 of the scaled size per axis,
kept only when the box stays in the frame. The original also draws a rotation it never applies.
"""

import math

import cv2
import numpy as np

import command_line
import data_root
import file_io
import folders
import matlab_image_ops
import per_image_runner
import segments

SETS = 2
SCALE_SPREAD = 0.2        # scale = 1 + (rand - 0.5) * 0.2
SHIFT_FRACTION = 1 / 16   # shift = round((rand - 0.5) * size / 16)
SEGMENT_FOLDER = folders.MEMORY_BANK
IMAGE_FOLDER = folders.train_images("512")
OUTPUT_FOLDER = folders.TRANSFORM_TRAINING


def matlab_round(x):
    """MATLAB's round: halves away from zero (numpy rounds them to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def perturb(segment_pixels, mask, rng):
    """Randomly scale and shift one segment cut (HxWx3 float in 0..1) as the original does."""
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    centre_row = math.ceil((bottom - top) / 2) + top
    centre_col = math.ceil((right - left) / 2) + left
    crop = segment_pixels[top:bottom + 1, left:right + 1]

    scale = 1 + (rng.random() - 0.5) * SCALE_SPREAD
    new_h, new_w = math.ceil(crop.shape[0] * scale), math.ceil(crop.shape[1] * scale)
    scaled = np.clip(cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_CUBIC), 0, 1)
    start_row = centre_row - math.ceil(new_h / 2)
    start_col = centre_col - math.ceil(new_h / 2)  # the original centres columns by the row length too
    placed, box = segment_pixels, (top, bottom, left, right)
    if start_row >= 0 and start_col >= 0 and start_row + new_h <= height and start_col + new_w <= width:
        placed = np.zeros_like(segment_pixels)
        placed[start_row:start_row + new_h, start_col:start_col + new_w] = scaled
        box = (start_row, start_row + new_h - 1, start_col, start_col + new_w - 1)

    shift_x = matlab_round((rng.random() - 0.5) * new_w * SHIFT_FRACTION)
    shift_y = matlab_round((rng.random() - 0.5) * new_h * SHIFT_FRACTION)
    if box[0] + shift_y < 0 or box[1] + shift_y >= height or box[2] + shift_x < 0 or box[3] + shift_x >= width:
        return placed
    shifted = np.zeros_like(placed)
    shifted[max(shift_y, 0):height + min(shift_y, 0), max(shift_x, 0):width + min(shift_x, 0)] = \
        placed[max(-shift_y, 0):height - max(shift_y, 0), max(-shift_x, 0):width - max(shift_x, 0)]
    return shifted


def to_uint8(image):
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def output_files(root, image_id, sets=SETS):
    return [root / OUTPUT_FOLDER / f"{s:02d}" / f"{data_root.image_name(image_id)}.mat" for s in range(1, sets + 1)]


def process_image(image_id, root, sizes, classes, sets, seed):
    level2 = sizes.shape(2)
    image = file_io.read_image(root / IMAGE_FOLDER / f"{data_root.image_name(image_id)}.png", shape=level2) / 255.0
    masks = []
    for class_id in range(1, classes.count + 1):
        path = segments.segment_file(root / SEGMENT_FOLDER, class_id, image_id)
        (library_mask,) = segments.read_segment_masks(path, sizes.shape(1), names=("library_mask",))
        masks += [matlab_image_ops.resize_nearest(library_mask[:, :, j], level2) > 0 for j in range(library_mask.shape[2])
                  if library_mask[:, :, j].sum() > sizes.area_threshold]
    # the cuts, their masks and targets are the same in every set; only the perturbation is drawn
    cuts = [image * mask[:, :, None] for mask in masks]
    mask_stack = file_io.stack_for_mat(masks, level2, np.uint8, first=True)
    target_stack = file_io.stack_for_mat(map(to_uint8, cuts), level2 + (3,), np.uint8, first=True)
    for set_number, path in enumerate(output_files(root, image_id, sets), start=1):
        rng = per_image_runner.image_rng(seed, image_id, set_number)
        file_io.save_mat(path, {
            "proposal": file_io.stack_for_mat((to_uint8(perturb(cut, mask, rng)) for cut, mask in zip(cuts, masks)),
                                             level2 + (3,), np.uint8, first=True),
            "mask": mask_stack,
            "proposal_gt": target_stack,
        })


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    parser.add_argument("--sets", type=int, default=SETS, help="random sets per image (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    per_image_runner.run_step(args, "transform training pairs", IMAGE_FOLDER, process_image,
                    lambda root, image_id: output_files(root, image_id, args.sets), sets=args.sets, seed=args.seed)


if __name__ == "__main__":
    command_line.run_cli(main)
