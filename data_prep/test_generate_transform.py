"""Step 3 (test_generate_transform.m): inputs of the transformation network at test time, and the
retrieved segments every canvas level pastes.

Reads  testdata/original_mask/CC/NAME.mat (library_mask), testdata/searched_top10_segments/CC/NAME.mat,
       traindata/RGB256Full|RGB512Full|RGB1024Full/ (the retrieved images at the level)
Writes testdata/transform/transform_<level>/NAME.mat at --level 256|512|1024 (default 512; the
       original's tmpbackup/ variants for 256 and 1024). Classes are visited back to front (the dataset's
       class order); for each query segment j the retrieved segment of highest IoU is used when its
       shape is not empty and the query's area is above the threshold:
         proposal (NxHxWx3 uint8: the source training image under that shape), mask
         (NxHxW uint8: the query), class, proposal_iou, proposal_pole_mask (NxHxW),
         response_index, original_index (= j, 1-based);
       the other segments are listed in mask_remained, class_remained, original_index_remained;
       all_class_flag (Kx2) gives, in visiting order, [1, index into proposal] or [2, index into
       the remained ones] (1-based).
"""

import numpy as np

import class_table
import command_line
import data_root
import errors
import file_io
import folders
import matlab_image_ops
import per_image_runner
import segments

QUERY_FOLDER = folders.QUERY_SEGMENTS
SEARCH_FOLDER = folders.retrieved_segments()
TRAIN_IMAGE_LIST = folders.train_images("256")  # response_index counts in this sorted list


def read_search(path, shape, count):
    """The search variables of one class, reshaped to K x N (MATLAB drops a trailing N of 1)."""
    content = file_io.load_mat(path, ["proposal", "proposal_iou", "proposal_pole_mask", "response_index"])
    topk = content["proposal_iou"].shape[0] if count else 0
    try:
        return (content["proposal"].reshape(shape + (3, topk, count)),
                content["proposal_iou"].reshape(topk, count),
                content["proposal_pole_mask"].reshape(shape + (topk, count)),
                content["response_index"].reshape(topk, count).astype(np.int64))
    except ValueError:
        raise errors.DataError(f"{path}: its arrays do not hold {count} query segments of "
                               f"{shape[0]}x{shape[1]} (does it belong to another query file?)") from None


def output_file(root, image_id, level_name="512"):
    return [root / folders.transform_inputs(level_name) / f"{data_root.image_name(image_id)}.mat"]


def process_image(image_id, root, sizes, classes, level_name, train_ids, order):
    level1, level_shape = sizes.shape(1), sizes.shape(data_root.LEVELS[level_name])
    image_folder = root / folders.train_images(level_name)
    kept = {key: [] for key in ("proposal", "mask", "class", "proposal_iou", "proposal_pole_mask",
                                "response_index", "original_index")}
    remained = {key: [] for key in ("mask_remained", "class_remained", "original_index_remained")}
    all_class_flag = []
    for class_id in order:
        (queries,) = segments.read_segment_masks(segments.segment_file(root / QUERY_FOLDER, class_id, image_id),
                                                 level1, names=("library_mask",))
        count = queries.shape[2]
        proposal, iou, pole, response = read_search(segments.segment_file(root / SEARCH_FOLDER, class_id, image_id),
                                                    level1, count)
        for j in range(count):
            query = matlab_image_ops.resize_nearest(queries[:, :, j], level_shape)
            best = int(np.argmax(iou[:, j])) if iou.shape[0] else 0
            # The retrieved shape is wherever the retrieved pixels are not black, as the original.
            shape = matlab_image_ops.resize_nearest(proposal[:, :, :, best, j].sum(axis=2) > 0, level_shape) if iou.shape[0] \
                else np.zeros(level_shape, bool)
            if shape.any() and queries[:, :, j].sum() > sizes.area_threshold:
                train_id = train_ids[response[best, j] - 1]
                source = file_io.read_image(image_folder / f"{data_root.image_name(train_id)}.png", shape=level_shape)
                kept["proposal"].append(source * shape[:, :, None])
                kept["mask"].append(query)
                kept["class"].append(class_id)
                kept["proposal_iou"].append(iou[best, j])
                kept["proposal_pole_mask"].append(matlab_image_ops.resize_nearest(pole[:, :, best, j], level_shape))
                kept["response_index"].append(response[best, j])
                kept["original_index"].append(j + 1)
                all_class_flag.append((1, len(kept["class"])))
            else:
                remained["mask_remained"].append(query)
                remained["class_remained"].append(class_id)
                remained["original_index_remained"].append(j + 1)
                all_class_flag.append((2, len(remained["class_remained"])))

    def stack(values, dtype, tail=()):
        return file_io.stack_for_mat(values, tail, dtype, first=True)

    file_io.save_mat(output_file(root, image_id, level_name)[0], {
        "proposal": stack(kept["proposal"], np.uint8, level_shape + (3,)),
        "mask": stack(kept["mask"], np.uint8, level_shape),
        "class": stack(kept["class"], np.uint8),
        "proposal_iou": stack(kept["proposal_iou"], np.float64),
        "proposal_pole_mask": stack(kept["proposal_pole_mask"], np.uint8, level_shape),
        "response_index": stack(kept["response_index"], np.uint32),
        "original_index": stack(kept["original_index"], np.uint32),
        "mask_remained": stack(remained["mask_remained"], np.uint8, level_shape),
        "class_remained": stack(remained["class_remained"], np.uint32),
        "original_index_remained": stack(remained["original_index_remained"], np.uint32),
        "all_class_flag": stack(all_class_flag, np.uint32, (2,)),
    })


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    command_line.add_level_argument(parser)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    per_image_runner.run_step(args, f"transform test inputs {args.level}", folders.TEST_LABELS, process_image,
                    lambda root_, image_id: output_file(root_, image_id, args.level), level_name=args.level,
                    train_ids=data_root.list_image_ids(root / TRAIN_IMAGE_LIST),
                    order=class_table.class_order(root, class_table.load_classes(root)))


if __name__ == "__main__":
    command_line.run_cli(main)
