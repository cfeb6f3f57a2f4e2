"""Seeded weights and inputs for checking the port against the original's own networks, shared by
benchmarks/compare_with_original.py (which runs the original's code) and the tests that pin the
figures it recorded (tests/original_outputs.json), so that both sides compute from the same numbers.

Weights follow a rule of the variable's name alone (the original's names, which the port keeps), so
the two sides need not create their variables in the same order.
"""

import zlib

import numpy as np

LABEL_CHANNELS = 20          # the original's 19 Cityscapes classes and void
COMPARE_SIZES = {"synthesis_1": 64, "synthesis_2": 128, "synthesis_4": 256}   # the smallest its functions allow
TRANSFORM_SIZE = (512, 1024)   # the transformer's fixed [8, 16] pool needs the original's size
ORDER_SIZE = (256, 512)        # and the ordering network's [8, 12]
FIXTURE_PROPOSALS = 2          # proposals in the recorded figures (the original's scripts use 10)
# each network's name in import_original_models.MODELS
PORT_MODELS = {"transformation": "transformation network", "order": "ordering network",
               "synthesis_1": "synthesis level 1", "synthesis_2": "synthesis level 2", "synthesis_4": "synthesis level 4"}


def seeded_weight(name, shape):
    """A value for the original's variable `name`: conv weights small, layer-norm gammas near 1,
    biases and betas spread, the transformer's affine layer near the identity warp, Adam's second
    moments positive."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name in ("beta1_power", "beta2_power"):
        return np.float32(0.9 if name == "beta1_power" else 0.999) ** 4   # after 3 steps
    if name.endswith("/Adam_1"):
        return rng.uniform(1e-8, 1e-4, shape).astype(np.float32)
    if name.endswith("/Adam"):
        return rng.normal(0, 1e-3, shape).astype(np.float32)
    if name == "g_transform_param":
        return rng.normal(0, 2e-3, shape).astype(np.float32)
    if name == "g_b_fc1":
        return (np.array([1, 0, 0, 0, 1, 0]) + rng.normal(0, 0.3, shape)).astype(np.float32)
    scale = 0.05 if "weights" in name else 0.5
    return (rng.normal(0, scale, shape) + (1.0 if name.endswith("gamma") else 0.0)).astype(np.float32)


def input_shapes(network, proposals=10):
    """Shapes of the inputs of a network in the comparison (the original's input layout)."""
    if network == "transformation":
        height, width = TRANSFORM_SIZE
        return [(proposals, height, width, 3), (proposals, height, width, 1), (1, height, width, LABEL_CHANNELS)]
    if network == "order":
        return [(1,) + ORDER_SIZE + (6,)]   # input_dim: the pair's colour mask and the colour label, RGB each
    sp = COMPARE_SIZES[network]
    return [(1, sp, 2 * sp, LABEL_CHANNELS + 4)]   # label, canvas, canvas mask


def seeded_inputs(network, seed, proposals=10):
    """Inputs: one-hot labels, colours in 0..1, binary masks."""
    rng = np.random.default_rng(seed)
    one_hot = np.eye(LABEL_CHANNELS, dtype=np.float32)
    if network == "order":
        return [rng.uniform(0, 1, input_shapes(network)[0]).astype(np.float32)]
    if network == "transformation":
        proposal_shape, mask_shape, label_shape = input_shapes(network, proposals)
        return [rng.uniform(0, 1, proposal_shape).astype(np.float32),
                (rng.uniform(0, 1, mask_shape) > 0.5).astype(np.float32),
                one_hot[rng.integers(0, LABEL_CHANNELS, label_shape[:-1])]]
    shape = input_shapes(network)[0][:-1]
    label = one_hot[rng.integers(0, LABEL_CHANNELS, shape)]
    canvas = rng.uniform(0, 1, shape + (3,)).astype(np.float32)
    mask = (rng.uniform(0, 1, shape + (1,)) > 0.5).astype(np.float32)
    return [np.concatenate([label, canvas, mask], axis=3)]


def port_outputs(network, net, inputs):
    """The port network's test-phase outputs on the original's inputs, in the original's
    conventions (the synthesis image in BGR, as an imported network's RGB reversed)."""
    if network == "transformation":
        proposals, masks, label = inputs
        warped, _ = net(proposals, masks, label, round_parameters=True)
        return {"warped": warped.numpy(), "parameters": net.parameters(proposals, masks, label).numpy()}
    (data,) = inputs
    if network == "order":
        return {"logits": net(data[..., :3], data[..., 3:]).numpy()[0]}
    image, logits = net(data[..., :LABEL_CHANNELS], data[..., LABEL_CHANNELS:LABEL_CHANNELS + 3],
                        data[..., LABEL_CHANNELS + 3:])
    return {"image": image.numpy()[..., ::-1], "logits": logits.numpy()}


def samples(values, count=97):
    """`count` values of an array spread over it (every k-th of its flattened values)."""
    flat = np.asarray(values, np.float64).ravel()
    return flat[::max(1, flat.size // count)][:count]
