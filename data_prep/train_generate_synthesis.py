"""Step 7 (train_generate_synthesis.m): training canvases of the synthesis network.

Reads  traindata/original_segment/CC/NAME.mat (the memory bank, via traindata/segment_index/),
       traindata/RGB256Full|RGB512Full|RGB1024Full (the image at the level), traindata/label_refine
Writes traindata/synthesis/traindata_synthesis_<level>_<2 level>/ for each random set SS = 01..
       (--sets, default 5), at --level 256|512|1024 (default 512):
         traindata_mat/SS/NAME.mat   proposal (HxWx3 uint8, the canvas), mask (HxW uint8, how many
                                     of the image's segments cover each pixel)
         traindata_label/SS/NAME.png the label with void holes where the retrieved shape or a
                                     slightly rotated copy of the segment leaves it
For each segment above the area threshold, classes back to front: of RANDOM_DRAWS random other
training images, the segment of the same class with the best IoU gives a shape; the canvas piece
is the image's OWN pixels inside (segment AND that shape AND the retrieved image's label is the
class), so the target stays right while the shape carries retrieval error. With probability
COLOUR_TRANSFER_CHANCE the piece takes the retrieved image's colours (colour_transfer.py). A random
half of the piece's boundary band turns white (elision); pieces are pasted back to front.
"""

import math

import cv2
import numpy as np

import canvas as canvas_ops
import colour_transfer
import segment_index
import segments
import sims_common as common

SETS = 5
RANDOM_DRAWS = 100
COLOUR_TRANSFER_CHANCE = 0.2
ELISION_BAND = 0.05       # of the image height
ROTATION_DEGREES = 5.0    # the label's segment copy turns by up to +-2.5 degrees
LEVELS = {"256": 1, "512": 2, "1024": 4}
IMAGE_FOLDERS = {1: "traindata/RGB256Full", 2: "traindata/RGB512Full", 4: "traindata/RGB1024Full"}
LABEL_FOLDER = "traindata/label_refine"
SEGMENT_FOLDER = "traindata/original_segment"


def output_folder(root, level_name):
    return root / "traindata" / "synthesis" / f"traindata_synthesis_{level_name}_{2 * int(level_name)}"


def set_files(root, image_id, level_name, set_number):
    """(canvas .mat, revised label .png) of one random set."""
    folder, name = output_folder(root, level_name), common.image_name(image_id)
    return (folder / "traindata_mat" / f"{set_number:02d}" / f"{name}.mat",
            folder / "traindata_label" / f"{set_number:02d}" / f"{name}.png")


def output_files(root, image_id, level_name, sets=SETS):
    return [path for s in range(1, sets + 1) for path in set_files(root, image_id, level_name, s)]


def rotated_copy(mask, degrees, rng):
    """imrotate(mask, degrees, 'nearest') with MATLAB's loose frame, cut back to the image size at
    a random place (the original's random crop)."""
    height, width = mask.shape
    angle = math.radians(degrees)
    loose_h = int(math.ceil(height * abs(math.cos(angle)) + width * abs(math.sin(angle))))
    loose_w = int(math.ceil(width * abs(math.cos(angle)) + height * abs(math.sin(angle))))
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    matrix[:, 2] += ((loose_w - width) / 2, (loose_h - height) / 2)
    loose = cv2.warpAffine(mask.astype(np.uint8), matrix, (loose_w, loose_h), flags=cv2.INTER_NEAREST)
    top = rng.integers(loose_h - height + 1)
    left = rng.integers(loose_w - width + 1)
    return loose[top:top + height, left:left + width] > 0


def retrieve_piece(query, class_id, draws, index, root, level_shape, train_ids):
    """(where the piece may take the image's own pixels, the best drawn shape, the retrieved image
    id), all at the level; Nones when no drawn segment overlaps the query."""
    row = index.best_in_images(query, draws)
    if row is None:
        return None, None, None
    shape_up = common.resize_nearest(index.mask(row), level_shape)
    source_id = train_ids[index.image[row] - 1]
    source_label = common.resize_nearest(
        common.read_label(root / LABEL_FOLDER / f"{common.image_name(source_id)}.png"), level_shape)
    query_up = common.resize_nearest(query, level_shape)
    valid = query_up & shape_up & (source_label == class_id - 1)
    return valid, shape_up, source_id


def process_image(image_id, root, sizes, level_name, sets, seed, train_ids, index_folder, colour_transfer_chance):
    level = LEVELS[level_name]
    shape = sizes.shape(level)
    name = common.image_name(image_id)
    image = common.read_image(root / IMAGE_FOLDERS[level] / f"{name}.png", shape=shape) / 255.0
    label = common.resize_nearest(common.read_label(root / LABEL_FOLDER / f"{name}.png", shape=sizes.shape(1)), shape)
    index = segment_index.SegmentIndex(index_folder, sizes)
    own_position = train_ids.index(image_id) + 1
    others = np.array([p for p in range(1, len(train_ids) + 1) if p != own_position])
    band = canvas_ops.band_width(ELISION_BAND, shape[0])
    order = common.class_order(root)
    query_masks = {c: segments.read_segment_masks(segments.segment_file(root / SEGMENT_FOLDER, c, image_id),
                                                  sizes.shape(1), names=("library_mask",))[0] > 0 for c in order}
    coverage = np.zeros(shape, np.int64)
    for masks in query_masks.values():
        for j in range(masks.shape[2]):
            coverage += common.resize_nearest(masks[:, :, j], shape)

    for set_number in range(1, sets + 1):
        mat_path, label_path = set_files(root, image_id, level_name, set_number)
        rng = common.image_rng(seed, image_id, set_number)
        canvas = np.zeros(shape + (3,))
        revised = label.copy()
        for class_id in order:
            class_index = index.of_class(class_id)
            for j in range(query_masks[class_id].shape[2]):
                query = query_masks[class_id][:, :, j]
                if query.sum() <= sizes.area_threshold or not others.size:
                    continue
                draws = rng.choice(others, RANDOM_DRAWS)
                valid, shape_up, source_id = retrieve_piece(query, class_id, draws, class_index, root,
                                                            shape, train_ids)
                query_up = common.resize_nearest(query, shape)
                if valid is not None:
                    piece = image * valid[:, :, None]
                    if rng.random() < colour_transfer_chance:
                        source = common.read_image(root / IMAGE_FOLDERS[level] / f"{common.image_name(source_id)}.png",
                                                   shape=shape) / 255.0
                        rows, cols = np.nonzero(query_up)
                        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
                        piece[box] = colour_transfer.transfer_image(image[box], source[box]) * valid[box][:, :, None]
                    canvas = canvas_ops.paste(canvas, canvas_ops.elide(piece, band, rng, inside_only=False))
                    revised[shape_up & ~query_up] = common.VOID_INDEX
                rotated = rotated_copy(query_up, (rng.random() - 0.5) * ROTATION_DEGREES, rng)
                revised[rotated & ~query_up] = common.VOID_INDEX
        common.save_mat(mat_path, {"proposal": np.round(canvas * 255).astype(np.uint8),
                                   "mask": np.clip(coverage, 0, 255).astype(np.uint8)})
        common.write_image(label_path, common.index_to_label(revised))


def main(argv=None):
    parser = common.step_parser(__doc__)
    parser.add_argument("--level", choices=sorted(LEVELS, key=int), default="512",
                        help="canvas size: the original's 256, 512 (default) or 1024")
    parser.add_argument("--sets", type=int, default=SETS, help="random sets per image (default 5)")
    parser.add_argument("--colour-transfer-chance", type=float, default=COLOUR_TRANSFER_CHANCE,
                        help="share of pieces given the retrieved image's colours (default 0.2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    index_folder = segment_index.prepare_index(root, common.load_sizes(root))
    common.run_step(args, f"synthesis training canvases {args.level}", IMAGE_FOLDERS[1], process_image,
                    lambda root_, image_id: output_files(root_, image_id, args.level, args.sets),
                    level_name=args.level, sets=args.sets, seed=args.seed,
                    colour_transfer_chance=args.colour_transfer_chance,
                    train_ids=common.list_image_ids(root / IMAGE_FOLDERS[1]), index_folder=index_folder)


if __name__ == "__main__":
    common.run_cli(main)
