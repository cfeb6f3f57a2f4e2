"""A writer of MATLAB v5 .mat files (what MATLAB's save -v7, Octave's save -v7 and
scipy.io.loadmat read), made for the pipeline's large pixel stacks.

scipy.io.savemat copies every array into column-major order and compresses it at zlib's default
level in one piece. Here an array that is already column-major (Fortran-ordered) is handed to zlib
as it is, the compression level is a parameter (level 0 writes the variable uncompressed), and a
variable's bytes are deflated in independent chunks: a chunk of zeros (empty slots of a stack)
costs nothing, and the chunks can be deflated on several threads.

Layout of a file: a 128-byte header, then one element per variable. An element is an 8-byte tag
(data type, byte count) and its data, padded to 8 bytes. A variable is a miMATRIX element holding
the array flags (class, logical), the dimensions, the name and the real part in column-major
order; compressed, that whole element is the zlib stream of a miCOMPRESSED element (not padded).
The zlib stream here is a 2-byte header, the raw deflate data of every chunk, each ended by a sync
flush (byte-aligned, no reference to earlier chunks, so chunks can be joined in any context), an
empty final block, and the Adler-32 checksum of the whole element.
"""

import concurrent.futures
import functools
import os
import struct
import zlib

import numpy as np

MI_INT8, MI_UINT32, MI_INT32, MI_MATRIX, MI_COMPRESSED = 1, 6, 5, 14, 15
# numpy type: (MAT data type of the values, MATLAB array class)
TYPES = {np.dtype(np.int8): (1, 8), np.dtype(np.uint8): (2, 9), np.dtype(np.int16): (3, 10),
         np.dtype(np.uint16): (4, 11), np.dtype(np.int32): (5, 12), np.dtype(np.uint32): (6, 13),
         np.dtype(np.float32): (7, 7), np.dtype(np.float64): (9, 6), np.dtype(np.int64): (12, 14),
         np.dtype(np.uint64): (13, 15)}
LOGICAL_FLAG = 0x0200
HEADER_TEXT = b"MATLAB 5.0 MAT-file, written by SIMS-Py (data_prep/mat_v5.py)"
# Bytes deflated as one unit: large enough that the per-chunk cost and the lost matches across
# chunk borders do not show (files grow by under 1%), small enough that an empty slot of a
# 256x512 stack is a whole chunk of zeros.
CHUNK_BYTES = 1 << 18
ZLIB_HEADER = b"\x78\x01"     # deflate, 32 KB window, no dictionary
FINAL_EMPTY_BLOCK = b"\x03\x00"  # a last fixed-Huffman block holding only its end code
ADLER_MODULUS = 65521


def header():
    """Descriptive text padded to 116 bytes, no subsystem data, version 0x0100, little endian."""
    return HEADER_TEXT.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"


def _padding(count):
    return b"\0" * (-count % 8)


def _element(data_type, payload):
    return struct.pack("<II", data_type, len(payload)) + payload + _padding(len(payload))


def as_matlab_array(value):
    """The array a variable is stored as: at least 2-D (a vector becomes a column, as savemat's
    oned_as="column"), little endian, logical for bool; other kinds are refused."""
    array = np.asarray(value)
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    if array.dtype.newbyteorder("=") not in TYPES:
        raise TypeError(f"cannot store a {array.dtype} array in a .mat file")
    if array.ndim < 2:
        array = array.reshape((-1, 1) if array.ndim == 1 else (1, 1))
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def matrix_pieces(name, value):
    """The miMATRIX element of one variable as a list of byte strings and buffers; the values are
    a view of the array when it is already column-major, a column-major copy otherwise."""
    logical = np.asarray(value).dtype == np.bool_
    array = as_matlab_array(value)
    data_type, array_class = TYPES[array.dtype.newbyteorder("=")]
    values = np.asfortranarray(array).reshape(-1, order="F")
    value_bytes = values.size * values.itemsize
    name_bytes = name.encode("ascii")
    body = [struct.pack("<IIII", MI_UINT32, 8, array_class | (LOGICAL_FLAG if logical else 0), 0),
            _element(MI_INT32, struct.pack(f"<{array.ndim}i", *array.shape)),
            _element(MI_INT8, name_bytes),
            struct.pack("<II", data_type, value_bytes), memoryview(values).cast("B"), _padding(value_bytes)]
    size = sum(len(piece) if isinstance(piece, bytes) else piece.nbytes for piece in body)
    return [struct.pack("<II", MI_MATRIX, size)] + body


def _adler32_joined(first, second, second_length):
    """Adler-32 of two byte strings joined, from their own checksums (as zlib's adler32_combine):
    the second's running sums start from the first's instead of from 1 and 0."""
    first_low, first_high = first & 0xFFFF, first >> 16
    low = (first_low + (second & 0xFFFF) - 1) % ADLER_MODULUS
    high = (first_high + (second >> 16) + second_length * (first_low - 1)) % ADLER_MODULUS
    return (high << 16) | low


@functools.lru_cache(maxsize=16)
def _deflated_zeros(length, level):
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(bytes(length)) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _deflate_chunk(chunk, level):
    """(raw deflate data ending in a sync flush, Adler-32) of one chunk."""
    if not np.frombuffer(chunk, np.uint8).any():
        return _deflated_zeros(len(chunk), level), ((len(chunk) % ADLER_MODULUS) << 16) | 1
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH), zlib.adler32(chunk)


def _chunks(pieces):
    """The element's bytes in chunks of at most CHUNK_BYTES; the small pieces before the values
    travel as one chunk."""
    small = b"".join(piece for piece in pieces[:-2])
    values, padding = memoryview(pieces[-2]).cast("B"), pieces[-1]
    chunks = [small] + [values[start:start + CHUNK_BYTES] for start in range(0, len(values), CHUNK_BYTES)]
    return chunks + [padding] if padding else chunks


_POOLS = {}


def thread_pool(name, threads):
    """One pool per process, name and size (a pool does not survive a fork into a worker process)."""
    key = (os.getpid(), name, threads)
    if key not in _POOLS:
        _POOLS[key] = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix=name)
    return _POOLS[key]


def compressed_element(pieces, level, threads=1):
    """The miCOMPRESSED element of a miMATRIX element given as pieces (matrix_pieces)."""
    chunks = _chunks(pieces)
    deflate = functools.partial(_deflate_chunk, level=level)
    # zlib and numpy release the GIL on large buffers, so the threads deflate in parallel
    parts = list(thread_pool("mat_v5", threads).map(deflate, chunks) if threads > 1 and len(chunks) > 2
                 else map(deflate, chunks))
    checksum = 1
    for chunk, (_, chunk_checksum) in zip(chunks, parts):
        checksum = _adler32_joined(checksum, chunk_checksum, len(chunk))
    stream = [ZLIB_HEADER] + [data for data, _ in parts] + [FINAL_EMPTY_BLOCK, struct.pack(">I", checksum)]
    return [struct.pack("<II", MI_COMPRESSED, sum(map(len, stream)))] + stream


def write(handle, variables, level=1, threads=1):
    """Write {name: array} to a binary file object: each variable compressed at zlib `level`
    (1..9) on up to `threads` threads, or stored uncompressed with level 0."""
    handle.write(header())
    for name, value in variables.items():
        pieces = matrix_pieces(name, value)
        for piece in pieces if level == 0 else compressed_element(pieces, level, threads):
            handle.write(piece)
