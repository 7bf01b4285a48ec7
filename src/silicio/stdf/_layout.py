"""Codes shared by the reader and its two sets of kernels (numba's, ``_kernels.py``, and plain
Python's, ``_python_kernels.py``): how a field is laid out in a record, what the record index
says where it stopped, how a column is laid out in an Arrow IPC message. Loads neither numba nor
pyarrow.
"""

from __future__ import annotations

import numpy as np

# How a field is laid out in the record (reader._plan maps spec types onto these).
KIND_FIXED = 0  # scalar of sizes[f] bytes
KIND_CN = 1  # 1-byte length, then bytes (Cn, Bn)
KIND_SN = 2  # 2-byte length, then bytes
KIND_DN = 3  # 2-byte bit count, then ceil(bits / 8) bytes
KIND_ARRAY = 4  # count x sizes[f] bytes
KIND_NIBBLES = 5  # count nibbles, two per byte
KIND_ARRAY_CN = 6  # count x Cn
KIND_ARRAY_SN = 7  # count x Sn
KIND_ARRAY_SIZED = 8  # count x (value of the size field) bytes: KxUf, KxCf
KIND_GEN_DATA = 9  # GDR items: a type byte, then the value

# Index status codes.
INDEX_OK = 0
INDEX_PARTIAL_HEADER = 1  # fewer than 4 bytes left: the file ends inside a record header
INDEX_PARTIAL_RECORD = 2  # REC_LEN runs past the end of the data
INDEX_UNKNOWN_TYPE = 3  # a record of a type the specification does not define, not followed by known ones
INDEX_UNKNOWN_CUT = 4  # records of undefined types running past the end of the data: decide with more

# Bytes of each GDR item type's value, -1 for the variable-length ones; -2 for undefined codes.
GDR_VALUE_SIZE = np.array([0, 1, 2, 4, 1, 2, 4, 4, 8, -2, -1, -1, -1, 1], dtype=np.int64)

# How a field's column is laid out in an IPC message (reader._ipc_plan maps fields onto these).
IPC_FIXED = 0  # validity, values (already little-endian in ``fixed``)
IPC_CHAR = 1  # C1 as a string: validity, offsets, one byte each
IPC_BYTES = 2  # Cn, Sn, Bn: validity, offsets, bytes
IPC_LIST = 3  # KxTYPE of fixed-size items, and N1 nibbles one per byte: validity, offsets; items
IPC_DN = 4  # struct: validity; bit_count (uint16); bit_data (binary)

# Buffers and field nodes each column takes in the message.
IPC_BUFFERS = np.array([2, 3, 3, 4, 6], np.int64)
IPC_NODES = np.array([1, 1, 1, 2, 3], np.int64)
