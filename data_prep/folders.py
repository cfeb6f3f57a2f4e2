"""The folders that connect the steps, relative to a data root, each named once here.

The README's Pipeline table lists the same folders (tests/test_folders.py holds the two together).
A step, network script or tool joins these to its --root; the functions take a level by the
original's resolution name ("256", "512", "1024").
"""

# What a dataset provides (make_demo_dataset.py, prepare_cityscapes.py, prepare_dataset.py)
TRAIN = "traindata"
TEST = "testdata"
TRAIN_LABELS = "traindata/label_refine"
TRAIN_LABELS_512 = "traindata/label_refine_512"
TRAIN_DISPARITY = "traindata/disparity"
TEST_LABELS = "testdata/label_refine"          # the query layouts
TEST_LABELS_512 = "testdata/label_refine_512"
# the levels that have layouts: (training layouts, test layouts)
LAYOUTS = {"256": (TRAIN_LABELS, TEST_LABELS), "512": (TRAIN_LABELS_512, TEST_LABELS_512)}
# folder in traindata/ and testdata/ -> (level, kind); testdata's RGB folders are ground truth
TRAIN_IMAGE_FOLDERS = {
    "RGB256Full": (1, "rgb"), "RGB512Full": (2, "rgb"), "RGB1024Full": (4, "rgb"),
    "Label256Full": (1, "label"), "Label512Full": (2, "label"), "Label1024Full": (4, "label"),
    "label_refine": (1, "label"), "label_refine_512": (2, "label"),
    "disparity": (1, "disparity"),
}
TEST_IMAGE_FOLDERS = {
    "label_refine": (1, "label"), "label_refine_512": (2, "label"),
    "RGB256Full": (1, "rgb"), "RGB512Full": (2, "rgb"),
}


def train_images(level_name):
    """The training images at a level (also the list whose order response_index counts in, at 256)."""
    return f"{TRAIN}/RGB{level_name}Full"


def test_images(level_name):
    """The test images at a level: ground truth, for evaluation only."""
    return f"{TEST}/RGB{level_name}Full"


def clean_labels(level_name):
    """The clean (hole-free) training labels at a level."""
    return f"{TRAIN}/Label{level_name}Full"


# Memory bank, query segments, retrieval
MEMORY_BANK = "traindata/original_segment"
QUERY_SEGMENTS = "testdata/original_mask"
SEGMENT_INDEX = "traindata/segment_index"


def retrieved_segments(topk=10):
    return f"{TEST}/searched_top{topk}_segments"


# Transformation (and the appearance-flow option)
TRANSFORM_TRAINING = "traindata/transform/transform_512"
TRANSFORM_MODEL = "trainedmodels/transform"
TRANSFORMED = "result/transform/transform_512"
FLOW_MODEL = "trainedmodels/appearance_flow"
FLOW_TRANSFORMED = "result/transform/appearance_flow_512"


def transform_inputs(level_name):
    return f"{TEST}/transform/transform_{level_name}"


# Ordering
ORDER_TRAINING = "traindata/order"
ORDER_FREQUENCY = "traindata/order_frequency.mat"
CLASS_ORDER = "traindata/order.mat"            # the dataset's class order, read by every later step
ORDER_INPUTS = "testdata/order"
ORDER_MODEL = "trainedmodels/order"
ORDER_PREDICTIONS = "result/order/data"


# Synthesis
VGG19_FILE = "trainedmodels/imagenet-vgg-verydeep-19.mat"


def synthesis_training(level_name):
    """The training canvases (traindata_mat/SS/) and revised labels (traindata_label/SS/) of a level."""
    return f"{TRAIN}/synthesis/traindata_synthesis_{level_name}_{2 * int(level_name)}"


def canvases(level_name, previews=False):
    """The test canvases of a level (.mat), or their .jpg previews."""
    folder = f"{TEST}/synthesis/transform_order_{level_name}"
    return folder + "_canvas" if previews else folder


def _synthesis_kind(parametric):
    return "synthesis_parametric" if parametric else "synthesis"


def synthesis_model(level_name, parametric=False):
    return f"trainedmodels/{_synthesis_kind(parametric)}/synthesis_{level_name}"


def synthesized(level_name, parametric=False):
    return f"result/{_synthesis_kind(parametric)}/transform_order_{level_name}"


# Evaluation
CONTACT_SHEETS = "result/contact_sheets"
OVERVIEW = "result/overview.jpg"


def segmentation_model(level_name):
    """The project's own segmenter of a level (segmentation.py), used by evaluate.py."""
    return f"trainedmodels/segmentation/segmentation_{level_name}"


def segmented(level_name):
    """The own segmenter's labels of the real test images (its test phase)."""
    return f"result/segmentation/segmentation_{level_name}"


def evaluation_record(level_name):
    """evaluate.py's protocol and figures as JSON."""
    return f"result/evaluation_{level_name}.json"
