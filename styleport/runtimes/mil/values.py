"""MIL values: data types, the weight-blob file, and proto ``Value`` -> numpy.

An ML Program keeps small constants inline (``immediateValue``) and large ones in
``weights/weight.bin`` (``blobFileValue``: file name + offset of a blob record). The blob file
(coremltools' MIL storage, version 2) is little-endian:

* a 64-byte file header: u32 blob count, u32 version, padding;
* per blob, a 64-byte metadata record at ``offset``: u32 sentinel 0xDEADBEEF, u32 storage dtype,
  u64 data size in bytes, u64 absolute data offset, padding; data 64-byte aligned.

Storage dtypes (measured against coremltools 9's writer): 1 fp16, 2 fp32, 3 uint8, 4 int8,
5 bf16, 6 int16, 7 uint16, 8 int4, 9 uint1, 10 uint2, 11 uint4, 12 uint3, 13 uint6, 14 int32,
15 uint32. Sub-byte types are packed LSB first: element 0 fills the low bits of byte 0.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from styleport.errors import StyleportError


class MILError(StyleportError):
    """The ML Program cannot be read or executed (corrupt package, bad input, unknown op)."""


# MIL proto DataType number -> (name, numpy dtype, bits). Sub-byte ints are unpacked to uint8/int8.
PROTO_DTYPES: dict[int, tuple[str, np.dtype, int]] = {
    1: ("bool", np.dtype(np.bool_), 8),
    10: ("fp16", np.dtype(np.float16), 16),
    11: ("fp32", np.dtype(np.float32), 32),
    12: ("fp64", np.dtype(np.float64), 64),
    21: ("int8", np.dtype(np.int8), 8),
    22: ("int16", np.dtype(np.int16), 16),
    23: ("int32", np.dtype(np.int32), 32),
    24: ("int64", np.dtype(np.int64), 64),
    25: ("int4", np.dtype(np.int8), 4),
    31: ("uint8", np.dtype(np.uint8), 8),
    32: ("uint16", np.dtype(np.uint16), 16),
    33: ("uint32", np.dtype(np.uint32), 32),
    34: ("uint64", np.dtype(np.uint64), 64),
    35: ("uint4", np.dtype(np.uint8), 4),
    36: ("uint2", np.dtype(np.uint8), 2),
    37: ("uint1", np.dtype(np.uint8), 1),
    38: ("uint6", np.dtype(np.uint8), 6),
    39: ("uint3", np.dtype(np.uint8), 3),
}
STRING = 2

# Blob storage dtype -> proto DataType number (see the module docstring).
_BLOB_DTYPES = {1: 10, 2: 11, 3: 31, 4: 21, 6: 22, 7: 32, 8: 25, 9: 37, 10: 36, 11: 35, 12: 39, 13: 38, 14: 23, 15: 33}
_BLOB_SENTINEL = 0xDEADBEEF
_DTYPE_BY_NAME = {name: dtype for name, dtype, _ in PROTO_DTYPES.values()}


def numpy_dtype(name: str) -> np.dtype:
    """MIL dtype name ("fp16", "fp32", "int32", ...) -> numpy dtype."""
    if name not in _DTYPE_BY_NAME:
        raise MILError(f"unknown MIL dtype '{name}' (known: {', '.join(sorted(_DTYPE_BY_NAME))})")
    return _DTYPE_BY_NAME[name]


def unpack_bits(packed: np.ndarray, nbits: int, count: int, signed: bool) -> np.ndarray:
    """LSB-first packed n-bit integers -> ``count`` values (uint8, or int8 two's complement)."""
    bits = np.unpackbits(packed.astype(np.uint8), bitorder="little")
    if bits.size < nbits * count:
        raise MILError(f"packed data holds {bits.size // nbits} {nbits}-bit values, need {count}")
    bits = bits[: nbits * count].reshape(count, nbits)  # (count*nbits,) -> (count, nbits)
    values = (bits.astype(np.int32) << np.arange(nbits, dtype=np.int32)).sum(axis=1)
    if signed:
        values = np.where(values >= 1 << (nbits - 1), values - (1 << nbits), values)
        return values.astype(np.int8)
    return values.astype(np.uint8)


class BlobFile:
    """Read-only view of one ``weight.bin`` (memory-mapped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._data = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise MILError(f"{path}: cannot read the weight file ({exc})") from None
        if self._data.size < 64:
            raise MILError(f"{path}: weight file is truncated ({self._data.size} bytes)")

    def read(self, offset: int, proto_dtype: int, shape: tuple[int, ...]) -> np.ndarray:
        """The blob whose metadata record sits at ``offset``, as an array of ``shape``."""
        if offset + 64 > self._data.size:
            raise MILError(f"{self.path}: blob offset {offset} is past the end of the file")
        sentinel, blob_dtype, size, data_offset = struct.unpack_from("<IIQQ", self._data, offset)
        if sentinel != _BLOB_SENTINEL:
            raise MILError(f"{self.path}: no blob record at offset {offset} (bad sentinel {sentinel:#x})")
        if _BLOB_DTYPES.get(blob_dtype) != proto_dtype:
            raise MILError(
                f"{self.path}: blob at {offset} has storage dtype {blob_dtype}, the program expects {proto_dtype}"
            )
        if data_offset + size > self._data.size:
            raise MILError(f"{self.path}: blob at {offset} is truncated")
        raw = np.asarray(self._data[data_offset : data_offset + size])
        name, dtype, nbits = PROTO_DTYPES[proto_dtype]
        count = int(np.prod(shape, dtype=np.int64))
        if nbits < 8:
            values = unpack_bits(raw, nbits, count, signed=name.startswith("int"))
        else:
            values = raw.view(dtype)
            if values.size != count:
                raise MILError(f"{self.path}: blob at {offset} holds {values.size} values, expected {count}")
        return values.reshape(shape).copy()


def tensor_shape(tensor_type) -> tuple[int | None, ...]:
    """Declared shape of a MIL TensorType (None for unknown dims)."""
    return tuple(d.constant.size if d.HasField("constant") else None for d in tensor_type.dimensions)


def decode_value(value, model_dir: Path, blobs: dict[str, BlobFile]) -> np.ndarray | str | list:
    """A proto ``Value`` (immediate tensor or blob reference) -> numpy array (or str for strings)."""
    vtype = value.type
    if vtype.WhichOneof("type") == "listType":
        raise MILError("list-typed values are not supported by this interpreter")
    if vtype.WhichOneof("type") != "tensorType":
        raise MILError(f"unsupported value type '{vtype.WhichOneof('type')}'")
    ttype = vtype.tensorType
    dtype_id = ttype.dataType
    shape = tensor_shape(ttype)
    if None in shape:
        raise MILError("a constant has an unknown dimension")
    if value.HasField("blobFileValue"):
        blob = value.blobFileValue
        name = blob.fileName.replace("@model_path/", "")
        if name not in blobs:
            blobs[name] = BlobFile(model_dir / name)
        return blobs[name].read(blob.offset, dtype_id, shape)
    if dtype_id == STRING:
        strings = list(value.immediateValue.tensor.strings.values)
        return strings[0] if not shape else strings
    if dtype_id not in PROTO_DTYPES:
        raise MILError(f"unsupported constant dtype number {dtype_id}")
    name, dtype, nbits = PROTO_DTYPES[dtype_id]
    tensor = value.immediateValue.tensor
    kind = tensor.WhichOneof("value")
    count = int(np.prod(shape, dtype=np.int64))
    if kind == "bytes":
        raw = np.frombuffer(tensor.bytes.values, dtype=np.uint8)
        arr = unpack_bits(raw, nbits, count, name.startswith("int")) if nbits < 8 else raw.view(dtype)
    elif kind in ("floats", "ints", "bools", "longInts", "doubles"):
        arr = np.asarray(list(getattr(tensor, kind).values)).astype(dtype)
    else:
        raise MILError(f"constant with no value (dtype {name})")
    if arr.size != count:
        raise MILError(f"constant holds {arr.size} values, its type says {count}")
    return arr.reshape(shape).copy()
