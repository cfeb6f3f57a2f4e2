"""Step 2 (search_segments.m): retrieve, for every query segment of a test layout, the training
segments of its class whose shapes match best (highest IoU at level 1).

Reads  testdata/original_mask/CC/NAME.mat (library_mask), the memory bank
       traindata/original_segment/ through its index (segment_index.py, built or refreshed
       first), traindata/RGB256Full/ (the pixels of the retrieved segments)
Writes testdata/searched_top10_segments/CC/NAME.mat per class with, for K = --topk and N query
       segments: proposal (HxWx3xKxN uint8, the retrieved library_img), proposal_iou (KxN single),
       proposal_pole_mask (HxWxKxN uint8), response_index (KxN, 1-based training image in the
       sorted list) and response_segment (KxN, 1-based segment inside that image's file).
Results are sorted best first, ties to the lower training image, then segment. Queries of
area <= the area threshold and slots without a positive IoU stay zero, as in the original.
Unlike the original, it writes where the next step reads (it wrote to ../data/testdata/).
"""

import functools

import numpy as np

import class_table
import command_line
import data_root
import file_io
import folders
import per_image_runner
import segment_index
import segments

QUERY_FOLDER = folders.QUERY_SEGMENTS
OUTPUT_FOLDER = folders.retrieved_segments()
TOPK = 10
TRAINING_IMAGE_CACHE = 64  # decoded memory-bank images kept per process (0.4 MB each at 256x512)

_OPEN_INDEXES = {}  # one per process: the memory maps are opened once, not per image


def open_index(root, sizes):
    folder = root / segment_index.INDEX_FOLDER
    if folder not in _OPEN_INDEXES:
        _OPEN_INDEXES[folder] = segment_index.SegmentIndex(folder, sizes)
    return _OPEN_INDEXES[folder]


def search_class(query_masks, class_index, area_threshold, topk, training_image):
    """The search variables of one class for an HxWxN stack of query masks."""
    height, width, count = query_masks.shape
    # column-major, as the file stores them: each slot is one contiguous block, written as it is
    proposal = np.zeros((height, width, 3, topk, count), np.uint8, order="F")
    proposal_pole_mask = np.zeros((height, width, topk, count), np.uint8, order="F")
    proposal_iou = np.zeros((topk, count), np.float32)
    response_index = np.zeros((topk, count), np.float32)
    response_segment = np.zeros((topk, count), np.float32)
    for j in range(count):
        query = query_masks[:, :, j] > 0
        if query.sum() <= area_threshold:
            continue
        for slot, match in enumerate(class_index.top_k(query, topk)):
            # library_img is the training image under library_mask, so it is rebuilt from the
            # image instead of reloading the segment file; outside the mask's box it stays 0
            top, bottom, left, right = class_index.box[match.row]
            box = (slice(top, bottom + 1), slice(left, right + 1))
            np.multiply(training_image(match.image_id)[box], class_index.mask(match.row)[box][:, :, None],
                        out=proposal[box + (slice(None), slot, j)])
            proposal_pole_mask[:, :, slot, j] = class_index.pole_mask(match.row)
            proposal_iou[slot, j] = match.iou
            response_index[slot, j] = match.image
            response_segment[slot, j] = match.segment
    return {"proposal": proposal, "proposal_iou": proposal_iou, "proposal_pole_mask": proposal_pole_mask,
            "response_index": response_index, "response_segment": response_segment}


@functools.lru_cache(maxsize=TRAINING_IMAGE_CACHE)
def read_training_image(path, shape):
    """A memory-bank image, decoded once per process while it stays among the recently used."""
    image = file_io.read_image(path, shape=shape)
    image.flags.writeable = False
    return image


def process_image(image_id, root, sizes, classes, topk):
    index = open_index(root, sizes)

    def training_image(train_id):
        return read_training_image(root / segment_index.TRAIN_IMAGE_FOLDER / f"{data_root.image_name(train_id)}.png",
                                   sizes.shape(1))

    for class_id in range(1, classes.count + 1):
        query_file = segments.segment_file(root / QUERY_FOLDER, class_id, image_id)
        (query_masks,) = segments.read_segment_masks(query_file, sizes.shape(1), names=("library_mask",))
        result = search_class(query_masks, index.of_class(class_id), sizes.area_threshold, topk, training_image)
        file_io.save_mat(segments.segment_file(root / OUTPUT_FOLDER, class_id, image_id), result, background=True)


def output_files(root, image_id):
    return segments.segment_files(root / OUTPUT_FOLDER, image_id, class_table.load_classes(root).count)


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    parser.add_argument("--topk", type=int, default=TOPK, help="segments kept per query (default 10)")
    args = parser.parse_args(argv)
    segment_index.prepare_index(args.root.resolve(), data_root.load_sizes(args.root.resolve()))
    per_image_runner.run_step(args, "search segments", folders.TEST_LABELS, process_image, output_files,
                    topk=args.topk)


if __name__ == "__main__":
    command_line.run_cli(main)
