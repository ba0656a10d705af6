"""Gathering rows of a memory-mapped Arrow record batch with NumPy
(:mod:`attribution.engine._history`), without Arrow's ``take``.

Arrow's ``take`` goes through ``pyarrow.compute``, whose first call imports pandas: about
0.3 s of CPU that a nightly run paid only for that (the full run never imports it). The
history's columns are of a few layouts -- fixed-width values (integers, floats, times),
large strings, and dictionaries of them -- which NumPy gathers from the mapped buffers in
a few vectorised steps; any other layout falls back to Arrow's ``take``.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from attribution.engine._together import together

__all__ = ["numbers", "take_batch"]

#: rows gathered from a batch past which its columns are gathered on threads
_THREADED = 1 << 16


def take_batch(batch: pa.RecordBatch, positions: np.ndarray) -> pa.RecordBatch:
    """The rows of ``batch`` at ``positions`` (any order, repeats allowed)."""
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    steps = [functools.partial(take_array, column, positions) for column in batch.columns]
    # the columns side by side (NumPy releases the GIL while it gathers)
    columns = together(*steps) if positions.size >= _THREADED else [step() for step in steps]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def take_array(array: pa.Array, positions: np.ndarray) -> pa.Array:
    """The values of ``array`` at ``positions``."""
    kind = array.type
    n = positions.size
    if not n:
        return array.slice(0, 0)
    validity = _validity(array, positions)
    if pa.types.is_dictionary(kind):
        indices = take_array(array.indices, positions)
        return pa.DictionaryArray.from_arrays(
            indices, array.dictionary, ordered=kind.ordered, safe=False
        )
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        return _take_text(array, positions, validity, np.int64)
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return _take_text(array, positions, validity, np.int32)
    width = kind.bit_width if _fixed(kind) else 0
    if width and width % 8 == 0:
        dtype = np.dtype(f"u{width // 8}")
        values = np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array) + array.offset)[
            array.offset :
        ]
        data = np.ascontiguousarray(values[positions])
        return pa.Array.from_buffers(kind, n, [validity, pa.py_buffer(data)])
    return array.take(pa.array(positions))  # another layout: Arrow's own (rare)


def numbers(array: pa.Array) -> np.ndarray:
    """An integer or float array without nulls as NumPy values, read from its buffer
    (Arrow's ``to_numpy`` imports pandas)."""
    if array.null_count or not _fixed(array.type) or pa.types.is_temporal(array.type):
        raise TypeError(f"not a plain numeric array: {array.type}")
    if not len(array):
        return np.empty(0, dtype=_dtype(array.type))
    values = np.frombuffer(
        array.buffers()[1], dtype=_dtype(array.type), count=len(array) + array.offset
    )
    return values[array.offset :]


def _dtype(kind: pa.DataType) -> np.dtype:
    width = kind.bit_width // 8
    if pa.types.is_floating(kind):
        return np.dtype(f"f{width}")
    return np.dtype(f"{'i' if pa.types.is_signed_integer(kind) else 'u'}{width}")


def _fixed(kind: pa.DataType) -> bool:
    try:
        return kind.bit_width > 0 and not pa.types.is_boolean(kind)
    except ValueError:
        return False


def _validity(array: pa.Array, positions: np.ndarray) -> pa.Buffer | None:
    """The validity bitmap of the values at ``positions`` (None: no nulls among them)."""
    if not array.null_count:
        return None
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")[
        array.offset : array.offset + len(array)
    ]
    valid = bits[positions]
    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _take_text(
    array: pa.Array, positions: np.ndarray, validity: pa.Buffer | None, width: type
) -> pa.Array:
    """Strings gathered by runs of consecutive positions (a contact's rows lie together):
    each run's bytes are one span of the source, so the byte positions are a running sum
    that jumps at each run's start (no per-row repeat)."""
    count = len(array) + array.offset + 1
    mapped: np.ndarray = np.frombuffer(array.buffers()[1], dtype=width, count=count)
    offsets = mapped[array.offset :].astype(np.int64, copy=False)
    starts = offsets[positions]
    out = np.zeros(positions.size + 1, dtype=np.int64)
    np.cumsum(offsets[positions + 1] - starts, out=out[1:])
    total = int(out[-1])
    if total:
        data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
        # runs of consecutive positions holding bytes: their source starts and where they
        # start in the gathered bytes
        first = np.flatnonzero(np.diff(positions, prepend=positions[0] - 2) != 1)
        source, target = starts[first], out[first]
        sizes = np.diff(target, append=total)
        source, target = source[sizes > 0], target[sizes > 0]
        index = np.int32 if data.size < 2**31 else np.int64
        step = np.ones(total, dtype=index)
        step[0] = source[0]
        # at each later run: from the byte past the previous run's last to this run's first
        step[target[1:]] = source[1:] - (source[:-1] + (target[1:] - target[:-1]) - 1)
        gathered = data[np.cumsum(step, dtype=index)]
    else:
        gathered = np.empty(0, np.uint8)
    new_offsets = out if width is np.int64 else out.astype(np.int32)
    return pa.Array.from_buffers(
        array.type, positions.size, [validity, pa.py_buffer(new_offsets), pa.py_buffer(gathered)]
    )
