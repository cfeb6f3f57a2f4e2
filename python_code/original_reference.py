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


def port_model(network):
    """import_original_models' description of the network (how its weights are mapped)."""
    import import_original_models
    return next(model for model in import_original_models.MODELS if model.name == PORT_MODELS[network])


def seeded_port_network(network):
    """The port's network with the original's seeded weights, mapped as the import maps them (the
    synthesis networks' BGR outputs turned into RGB, the ordering network's fixed window)."""
    import import_original_models
    from order_network import OrderNetwork
    model, count = port_model(network), LABEL_CHANNELS - 1
    net = OrderNetwork(count, pool_window=import_original_models.ORIGINAL_ORDER_POOL_WINDOW) \
        if network == "order" else model.build(count)
    names = [variable.name.split(":")[0] for variable in net.variables]
    values = import_original_models.bgr_to_rgb(
        model, {name: seeded_weight(name, tuple(variable.shape)) for name, variable in zip(names, net.variables)})
    for name, variable in zip(names, net.variables):
        variable.assign(values[name])
    return net


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


def seeded_vgg19():
    """{conv name: (kernel, bias)} of a VGG19 stand-in (He-scaled, so that activations neither
    vanish nor explode through its 16 layers) for comparing losses; the real file is not here."""
    import vgg_features
    weights, channels = {}, 3
    for block, width in zip(vgg_features.VGG19_LAYERS, (64, 128, 256, 512, 512)):
        for name in block:
            rng = np.random.default_rng(zlib.crc32(f"vgg19/{name}".encode()))
            kernel = rng.normal(0, (2.0 / (9 * channels)) ** 0.5, (3, 3, channels, width)).astype(np.float32)
            weights[name] = (kernel, rng.normal(0, 0.01, width).astype(np.float32))
            channels = width
    return weights


def seeded_training_inputs(network, seed, proposals=FIXTURE_PROPOSALS):
    """One training sample, keyed by the names of the original's placeholders."""
    rng = np.random.default_rng(seed)
    one_hot = np.eye(LABEL_CHANNELS, dtype=np.float32)
    if network == "order":
        return {"data": seeded_inputs(network, seed)[0], "label": np.int32(rng.integers(1, LABEL_CHANNELS))}
    if network == "transformation":
        proposal, mask, label = seeded_inputs(network, seed, proposals)
        return {"proposal": proposal, "mask": mask, "label": label,
                "real_image": rng.uniform(0, 255, (1,) + TRANSFORM_SIZE + (3,)).astype(np.float32)}
    data = seeded_inputs(network, seed)[0]
    shape = data.shape[:3]
    return {"label": data[..., :LABEL_CHANNELS], "proposal": data[..., LABEL_CHANNELS:LABEL_CHANNELS + 3],
            "mask": data[..., LABEL_CHANNELS + 3:], "label_gt": one_hot[rng.integers(0, LABEL_CHANNELS, shape)],
            "real_image": rng.uniform(0, 255, shape + (3,)).astype(np.float32)}


# the port's synthesis loss terms under the original's names (its semantic term is 10 x p_semantic)
SYNTHESIS_TERMS = {"p0": "input", "p1": "conv1_2", "p2": "conv2_2", "p3": "conv3_2", "p4": "conv4_2", "p5": "conv5_2"}


def port_training(network, net, inputs, vgg=None, learning_rate=1e-4):
    """({loss term under the original's name: value}, {variable: gradient}, {variable: value after one
    step of the port's Adam}) of one training sample, in the port's variable layout. The synthesis
    loss sees the imported network's RGB output reversed, the original's BGR."""
    import tensorflow as tf

    import distribution
    from synthesis_network import synthesis_loss
    from transform_network import transform_loss
    with tf.GradientTape() as tape:
        if network == "order":
            data = inputs["data"]
            logits = net(data[..., :3], data[..., 3:])
            total = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=[int(inputs["label"])], logits=logits))
            terms = {"G_loss": total}
        elif network == "transformation":
            warped, _ = net(inputs["proposal"], inputs["mask"], inputs["label"])
            total = transform_loss(inputs["real_image"][..., ::-1], warped[None], inputs["mask"][None])[0]
            terms = {"p_transformer": total}
        else:
            image, logits = net(inputs["label"], inputs["proposal"], inputs["mask"])
            losses = synthesis_loss(vgg, inputs["real_image"], image[..., ::-1], logits, inputs["label"],
                                    inputs["label_gt"])
            total = losses["total"][0]
            terms = {name: losses[port][0] for name, port in SYNTHESIS_TERMS.items()}
            terms["p_semantic"] = losses["semantic"][0] / 10.0
    variables = net.trainable_variables
    gradients = tape.gradient(total, variables)
    optimizer = distribution.adam(learning_rate)
    optimizer.apply_gradients(zip(gradients, variables))
    names = [variable.name.split(":")[0] for variable in variables]
    return ({name: float(value) for name, value in terms.items()},
            {name: gradient.numpy() for name, gradient in zip(names, gradients)},
            {name: variable.numpy() for name, variable in zip(names, variables)})
