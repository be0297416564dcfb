"""Read MXNet's ``.params`` format with numpy alone (for machines that have no MXNet, e.g. a GPU machine with
PyTorch): ``read_gluon_params(path)`` -> {parameter name: float32 array}, as ``mx.nd.load`` gives them."""
from __future__ import annotations

import struct

import numpy as np

MXNET_LIST_MAGIC, MXNET_ARRAY_MAGIC = 0x112, 0xF993FAC9


def read_gluon_params(path: str) -> dict[str, np.ndarray]:
    """{name: float32 array} of an MXNet ``.params`` file (dense float32 arrays, as Gluon's save_parameters
    writes them)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, count = struct.unpack_from("<QQQ", data, 0)
    if magic != MXNET_LIST_MAGIC:
        raise ValueError("%s: not an MXNet .params file" % path)
    offset, arrays = 24, []
    for _ in range(count):
        array_magic, storage, ndim = struct.unpack_from("<IiI", data, offset)
        if array_magic != MXNET_ARRAY_MAGIC or storage != 0:
            raise ValueError("%s: unsupported array record" % path)
        shape = struct.unpack_from("<%dq" % ndim, data, offset + 12)
        offset += 12 + 8 * ndim + 8                       # shape, then device type and id
        (dtype,) = struct.unpack_from("<i", data, offset)
        if dtype != 0:
            raise ValueError("%s: only float32 arrays are supported" % path)
        size = int(np.prod(shape))
        arrays.append(np.frombuffer(data, np.float32, size, offset + 4).reshape(shape).copy())
        offset += 4 + 4 * size
    (names,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    keys = []
    for _ in range(names):
        (length,) = struct.unpack_from("<Q", data, offset)
        keys.append(data[offset + 8:offset + 8 + length].decode())
        offset += 8 + length
    return dict(zip(keys, arrays))
