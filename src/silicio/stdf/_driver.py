"""What the reader calls on its compiled kernels, over either set of them: numba's, compiled
just in time and cached (``_kernels.py``), or the same kernels compiled ahead of time into an
extension module (``_native.py``, built by ``_aot.py``), which needs neither numba nor LLVM
when a file is read. Here: the threads that decode ranges of records side by side, and the
calls that split a batch into such ranges or take one launch for a small one.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Below this many records a second thread costs more than it saves.
PARALLEL_MIN_ITEMS = 16384
#: Chunks per thread: a thread that other work on the machine slows down takes fewer of them,
#: so the others are not left waiting for it.
CHUNKS_PER_THREAD = 4

# Threads: the kernels release the GIL (nogil), so plain Python threads run them side by side.
# Idle workers block on a queue (no spinning, unlike numba's OpenMP layer, whose waiting threads
# burnt as much CPU as the work on a busy machine), and the choice stays ours per call instead of
# a process-wide threading layer. Made on first use; a forked child makes its own.
_pool: ThreadPoolExecutor | None = None
_pool_threads = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    global _pool, _pool_threads
    _pool, _pool_threads = None, 0


os.register_at_fork(after_in_child=_forget_pool)


def _run_chunks(function, n_chunks: int, threads: int) -> None:
    """``function(c)`` for each chunk c, on up to ``threads`` threads (this one if 1)."""
    if threads <= 1 or n_chunks <= 1:
        for c in range(n_chunks):
            function(c)
        return
    global _pool, _pool_threads
    with _pool_lock:
        # A pool too small is replaced, not shut down: a read on another thread may still be
        # handing it work; its threads end once it is no longer referenced.
        if _pool is None or _pool_threads < threads:
            _pool, _pool_threads = ThreadPoolExecutor(threads, thread_name_prefix="silicio-stdf"), threads
        pool = _pool
    for _ in pool.map(function, range(n_chunks)):
        pass


def chunk_bounds(n: int, threads: int) -> list[int]:
    """Bounds of the record ranges that ``threads`` threads decode: one range when a single
    thread or few records; else about ``CHUNKS_PER_THREAD`` per thread, each starting at a
    multiple of 64 records (a validity bitmap's byte, or word, never spans two ranges)."""
    if threads <= 1 or n < PARALLEL_MIN_ITEMS:
        return [0, n]
    n_chunks = min(threads * CHUNKS_PER_THREAD, n // 4096)
    step = ((n + n_chunks - 1) // n_chunks + 63) & ~63
    return [*range(0, n, step), n]


#: Records from which a batch's arrays are allocated by numpy, outside the kernels: numpy asks
#: Linux for huge pages for large arrays (madvise), numba's allocator does not, and the page
#: faults then took a quarter of a large batch's decoding (a message of 50 MB: 30 ms of 136).
LARGE_BATCH = 16384


def _scratch(n, nf, width, n_var, col_off, var_slot):
    """:func:`_kernels._decode_outputs`, by numpy."""
    col_base = n * col_off.astype(np.int64)
    slot_base = n * var_slot.astype(np.int64)
    return (np.empty(n * width, np.uint8), np.zeros(n * n_var, np.uint16), np.zeros(n * n_var, np.uint16),
            np.empty(n, np.int16), np.full(n, -1, np.int16), col_base, slot_base)  # fmt: skip


#: Records of a type that writes its message into a window's :class:`Arena`, and the arena's size.
ARENA_MAX_ITEMS = 256
ARENA_BYTES = 64 * 1024


class Arena:
    """A zeroed block that the small record types of a window write their messages into, one
    after the other: a call that returns an array costs ~10 us more (pycc's wrappers box it
    slowly), more than such a type takes to decode. Each message stays where it was written
    (the batches read from it hold it), so the block is never written twice."""

    def __init__(self):
        self.words = np.zeros(ARENA_BYTES // 8, np.int64)
        self.used = 0  # words


#: The kernels the reader calls directly, the same in every set.
DIRECT = (
    "index_records",
    "find_resync",
    "gather_items",
    "gather_nibbles",
    "gather_gen_data",
    "gen_data_columns",
    "gather_values",
)


class Kernels:
    """The reader's kernel calls over ``compiled``, a module holding the compiled functions by
    their names in ``_kernels.py`` (numba's dispatchers, or the ahead-of-time extension)."""

    def __init__(self, compiled):
        self.compiled = compiled
        for name in DIRECT:
            setattr(self, name, getattr(compiled, name))

    def decode_fields(
        self, buf, rec_pos, seq, base, big, kinds, sizes, count_ref, size_ref, is_ref, col_off, var_slot, width, n_var,
        threads=1,
    ):  # fmt: skip
        """Decode every record of one type, starting at header offsets ``rec_pos``.

        Fixed-size fields go to ``fixed``, column-major: field f's column is the bytes
        ``fixed[n * col_off[f] : n * (col_off[f] + sizes[f])]``, already in little-endian order.
        Variable-length fields give, per slot ``var_slot[f]`` and record, where their bytes start
        relative to the record's first field (``var_start``) and how many bytes they take
        (``var_len``, zero for an omitted field); both fit 16 bits as REC_LEN does. Item counts come
        from the count fields, bit counts of Dn from the two bytes before ``var_start``.
        ``present[r]`` is how many leading fields record r holds: STDF omits trailing fields only.
        ``bad_field[r]`` is the field that overran the record, or -1. ``positions`` holds the
        records' ``seq`` then their byte offsets (``rec_pos + base``): the two leading columns.
        Returns (positions, fixed, var_start, var_len, present, bad_field, the fewest and the most
        fields any record holds, how many records overran). ``threads``: see :func:`chunk_bounds`.
        """
        k = self.compiled
        bounds = chunk_bounds(rec_pos.shape[0], threads)
        if len(bounds) == 2 and rec_pos.shape[0] < LARGE_BATCH:
            fixed, var_start, var_len, present, bad_field = k._decode_chunks(
                buf,
                rec_pos,
                big,
                kinds,
                sizes,
                count_ref,
                size_ref,
                is_ref,
                col_off,
                var_slot,
                width,
                n_var,
                1,
            )
        else:
            fixed, var_start, var_len, present, bad_field, col_base, slot_base = _scratch(
                rec_pos.shape[0], kinds.shape[0], width, n_var, col_off, var_slot
            )

            def decode(c):
                k._decode_range(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_base, slot_base,
                              bounds[c], bounds[c + 1], fixed, var_start, var_len, present, bad_field)  # fmt: skip

            _run_chunks(decode, len(bounds) - 1, threads)
        positions = k._positions(rec_pos, seq, base)
        fewest, most, n_bad = k._presence(present, bad_field)
        return positions, fixed, var_start, var_len, present, bad_field, fewest, most, n_bad

    def gather_bytes(self, buf, base, rel, lengths, threads=1):
        """Concatenate byte ranges, the i-th starting at ``base[i] + rel[i]``: Arrow offsets (int32)
        and data, and whether any byte is >= 0x80 (then the strings need a UTF-8 check)."""
        k = self.compiled
        offsets, total = k._offsets(lengths)
        if total == 0:
            return offsets, np.empty(0, np.uint8), False
        data = np.empty(total, np.uint8)
        n = lengths.shape[0]
        bounds = chunk_bounds(n, threads) if total >= PARALLEL_MIN_ITEMS * 16 else [0, n]
        high = np.zeros(len(bounds) - 1, np.bool_)

        def copy(c):
            high[c] = k._copy_ranges(buf, base, rel, lengths, offsets, data, bounds[c], bounds[c + 1])

        _run_chunks(copy, len(bounds) - 1, threads)
        return offsets, data, bool(high.any())

    def gather_byte_fields(self, buf, rec_pos, var_start, var_len, slots, threads=1):
        """The bytes of several variable-length fields of one record type (Cn, Sn, Bn, Dn), in one
        pass: field k's value in record i is ``data[offsets[k * n + i] : offsets[k * n + i + 1]]``,
        so one Arrow array of ``k * n`` items holds them all and each field is a slice of it.
        ``high[k]`` says whether any byte of field k is >= 0x80 (its text then needs a UTF-8 check)."""
        k = self.compiled
        if threads <= 1 or rec_pos.shape[0] < PARALLEL_MIN_ITEMS:
            return k._gather_fields(
                buf, rec_pos, var_start, var_len, slots
            )  # one launch: small types are many
        offsets, total = k._field_offsets(rec_pos.shape[0], var_len, slots)
        data = np.empty(total, np.uint8)
        bounds = chunk_bounds(offsets.shape[0] - 1, threads)

        def copy(c):
            k._copy_fields(buf, rec_pos, var_start, var_len, slots, offsets, data, bounds[c], bounds[c + 1])

        _run_chunks(copy, len(bounds) - 1, threads)
        return offsets, data, k._high_fields(offsets, data, rec_pos.shape[0], slots.shape[0])

    def batch_message(
        self,
        buf,
        rec_pos,
        seq,
        base,
        big,
        kinds,
        sizes,
        count_ref,
        size_ref,
        is_ref,
        col_off,
        var_slot,
        width,
        n_var,
        ipc_kind,
        text_check,
        template,
        at_length,
        at_nodes,
        at_buffers,
        at_body_length,
        threads=1,
        arena=None,
    ):
        """One record type's batch as an Arrow IPC message: see :func:`decode_fields` for the
        decoding and ``reader._ipc_plan`` for the template. Returns the message (uint8), the
        per-record ``bad_field`` (None when no record overran), how many records overran, and
        whether a text field holds a byte >= 0x80 (then its text needs checking as UTF-8, and the
        caller builds the batch otherwise).

        With ``threads`` > 1 (and records enough, :func:`chunk_bounds`) ranges of records are
        decoded on several threads, then, once the buffers are laid out from what each range holds,
        written into the message side by side; the message is the same byte for byte. A type of
        few records writes its message into ``arena`` (an :class:`Arena`) where it fits."""
        k = self.compiled
        n = rec_pos.shape[0]
        if arena is not None and n <= ARENA_MAX_ITEMS:
            size, written, n_bad, high = k._decode_into(arena.words, arena.used, buf, rec_pos, seq, base, big, kinds,
                                                        sizes, count_ref, size_ref, is_ref, col_off, var_slot, width,
                                                        n_var, ipc_kind, text_check, template, at_length, at_nodes,
                                                        at_buffers, at_body_length)  # fmt: skip
            if written:
                message = arena.words[arena.used : arena.used + size // 8].view(np.uint8)
                arena.used += size // 8
                bad_field = None
                if n_bad:  # records overran theirs: decoded again for which field (rare)
                    bad_field = k._decode_chunks(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_off,
                                                 var_slot, width, n_var, 1)[4]  # fmt: skip
                return message, bad_field, n_bad, high
        # one range (chunk_bounds), in one launch: small types are many
        if n < LARGE_BATCH and (threads <= 1 or n < PARALLEL_MIN_ITEMS):
            message, n_bad, high = k._decode_to_message(buf, rec_pos, seq, base, big, kinds, sizes, count_ref, size_ref,
                                                        is_ref, col_off, var_slot, width, n_var, ipc_kind, text_check,
                                                        template, at_length, at_nodes, at_buffers, at_body_length)  # fmt: skip
            bad_field = None
            if n_bad:  # records overran theirs: decoded again for which field (rare)
                bad_field = k._decode_chunks(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_off,
                                             var_slot, width, n_var, 1)[4]  # fmt: skip
            return message, bad_field, n_bad, high
        bounds = chunk_bounds(n, threads)
        n_chunks = len(bounds) - 1
        fixed, var_start, var_len, present, bad_field, col_base, slot_base = _scratch(
            n, kinds.shape[0], width, n_var, col_off, var_slot
        )
        totals = np.zeros((n_chunks, kinds.shape[0]), np.int64)

        def decode(c):
            k._decode_chunk(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_base, slot_base, bounds[c],
                          bounds[c + 1], fixed, var_start, var_len, present, bad_field, col_off, var_slot, ipc_kind,
                          totals, c)  # fmt: skip

        _run_chunks(decode, n_chunks, threads)
        length, where, starts, fewest, most, n_bad = k._buffer_layout(
            sizes, ipc_kind, present, bad_field, totals
        )
        meta = template.shape[0]
        words = np.zeros((meta + int(where[-1])) // 8, np.int64)  # numpy's: see _scratch
        k._write_metadata(words, template, at_length, at_nodes, at_buffers, at_body_length, ipc_kind, present, length,
                        where, starts)  # fmt: skip

        def fill(c):
            k._fill(buf, rec_pos, seq, base, big, kinds, sizes, count_ref, col_off, var_slot, ipc_kind, meta, words, where,
                  starts, fewest, most, fixed, var_start, var_len, present, bounds[c], bounds[c + 1], c)  # fmt: skip

        _run_chunks(fill, n_chunks, threads)
        high = k._text_high(words, meta, where, ipc_kind, text_check, most, n)
        return words.view(np.uint8), bad_field, n_bad, high
