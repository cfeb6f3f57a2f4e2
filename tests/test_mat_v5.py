"""The MATLAB v5 writer: what scipy.io.loadmat reads back equals what scipy.io.savemat wrote, for
every kind of variable the pipeline stores, compressed at any level and uncompressed."""

import io
import zlib

import numpy as np
import pytest
import scipy.io

import mat_v5


def _variables():
    rng = np.random.default_rng(5)
    return {
        "proposal": rng.integers(0, 256, (24, 40, 3, 5), dtype=np.uint8),          # HxWx3xN stack
        "proposal_fortran": np.asfortranarray(rng.integers(0, 256, (24, 40, 7), dtype=np.uint8)),
        "mask_stack_empty": np.zeros((24, 40, 0), np.uint8),                          # HxWx0
        "empty": np.zeros((0, 0)),
        "canvas": rng.random((24, 40, 3), dtype=np.float32),                          # single
        "score": rng.random(11),                                                      # double vector
        "scalar": np.float64(2.5),
        "logical": rng.random((6, 9)) > 0.5,
        "pairs": np.arange(12, dtype=np.int32).reshape(3, 4),
        "disparity": np.arange(20, dtype=np.uint16).reshape(4, 5),
        "big_endian": np.arange(6, dtype=">f8").reshape(2, 3),
    }


def _read(data):
    return scipy.io.loadmat(io.BytesIO(data))


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_loadmat_reads_what_savemat_would_have_written(level):
    variables = _variables()
    expected, written = io.BytesIO(), io.BytesIO()
    scipy.io.savemat(expected, variables, do_compression=True, oned_as="column")
    mat_v5.write(written, variables, level)
    expected, written = _read(expected.getvalue()), _read(written.getvalue())
    for name in variables:
        assert written[name].dtype == expected[name].dtype, name
        assert written[name].shape == expected[name].shape, name
        np.testing.assert_array_equal(written[name], expected[name], err_msg=name)


def test_a_column_major_array_is_written_without_a_copy():
    stack = np.asfortranarray(np.zeros((8, 8, 3), np.uint8))
    pieces = mat_v5.matrix_pieces("stack", stack)
    views = [piece for piece in pieces if isinstance(piece, memoryview)]
    assert len(views) == 1 and np.shares_memory(np.asarray(views[0]), stack)


def test_unstorable_values_are_refused():
    with pytest.raises(TypeError, match="complex128"):
        mat_v5.write(io.BytesIO(), {"z": np.zeros(3, complex)})


def _compressed_elements(data):
    """The zlib streams of a file's miCOMPRESSED elements."""
    streams, position = [], 128
    while position < len(data):
        data_type, size = np.frombuffer(data[position:position + 8], "<u4")
        assert data_type == mat_v5.MI_COMPRESSED
        streams.append(data[position + 8:position + 8 + size])
        position += 8 + size
    return streams


@pytest.mark.parametrize("threads", [1, 2])
def test_a_large_stack_with_empty_slots_is_written_exactly(threads):
    # a search-step stack: HxWx3xKxN, column-major, most slots empty (several chunks of zeros)
    rng = np.random.default_rng(3)
    stack = np.zeros((128, 256, 3, 4, 3), np.uint8, order="F")
    stack[20:90, 30:200, :, 0, 0] = rng.integers(1, 256, (70, 170, 3), dtype=np.uint8)
    stack[:, :, :, 2, 1] = rng.integers(0, 4, (128, 256, 3), dtype=np.uint8)
    variables = {"proposal": stack, "proposal_iou": rng.random((4, 3)).astype(np.float32)}
    assert stack.nbytes > 3 * mat_v5.CHUNK_BYTES
    compressed, uncompressed = io.BytesIO(), io.BytesIO()
    mat_v5.write(compressed, variables, level=1, threads=threads)
    mat_v5.write(uncompressed, variables, level=0)
    # every stream inflates (zlib checks the Adler-32) to exactly the uncompressed elements
    inflated = b"".join(zlib.decompress(stream) for stream in _compressed_elements(compressed.getvalue()))
    assert inflated == uncompressed.getvalue()[128:]
    loaded = _read(compressed.getvalue())
    np.testing.assert_array_equal(loaded["proposal"], stack)
    assert loaded["proposal"].dtype == np.uint8 and loaded["proposal"].shape == stack.shape
    # chunking costs little: within 2% of deflating the whole at the same level
    whole = len(zlib.compress(uncompressed.getvalue()[128:], 1))
    assert len(compressed.getvalue()) - 128 < 1.02 * whole + 256


def test_the_joined_checksum_equals_the_checksum_of_the_joined_bytes():
    rng = np.random.default_rng(8)
    for first_length, second_length in [(0, 5), (7, 0), (1000, 70000), (65521 * 3 + 4, 12)]:
        first = rng.integers(0, 256, first_length, dtype=np.uint8).tobytes()
        second = rng.integers(0, 256, second_length, dtype=np.uint8).tobytes()
        assert mat_v5._adler32_joined(zlib.adler32(first), zlib.adler32(second), second_length) \
            == zlib.adler32(first + second)
