"""DataMatrix ECC 200 structure: symbol sizes, module placement of codewords, Reed–Solomon over GF(256).

What a print-quality grader needs to map a sampled module grid to codewords and to count the errors
Reed–Solomon corrects (ISO/IEC 16022: Table 7 for the sizes, Annex F for the placement, §5.7 for the
error correction). DMRE sizes (ISO/IEC 21471) are not included.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "SYMBOL_SIZES",
    "Correction",
    "ModuleMap",
    "SymbolSize",
    "block_members",
    "correct",
    "encode",
    "module_map",
    "place_codewords",
    "read_codewords",
    "symbol_size",
]


@dataclass(frozen=True, slots=True)
class SymbolSize:
    """One ECC 200 symbol size (ISO/IEC 16022 Table 7)."""

    rows: int
    """Modules from top to bottom, finder and clock tracks included (no quiet zone)."""
    cols: int
    region_rows: int
    """Data modules from top to bottom in one data region (its own finder and clock excluded)."""
    region_cols: int
    data_codewords: int
    ecc_codewords: int
    """Error correction codewords of the whole symbol, over all blocks."""
    blocks: int
    """Interleaved Reed–Solomon blocks (see block_members)."""

    @property
    def regions(self) -> tuple[int, int]:
        """Data regions (down, across)."""
        return self.rows // (self.region_rows + 2), self.cols // (self.region_cols + 2)

    @property
    def codewords(self) -> int:
        """All codewords, data and error correction."""
        return self.data_codewords + self.ecc_codewords

    @property
    def block_ecc(self) -> int:
        """Error correction codewords per block (d)."""
        return self.ecc_codewords // self.blocks

    @property
    def misdecode_protection(self) -> int:
        """Codewords per block kept for error detection (p): 1 when d is odd, as only d - 1 correct."""
        return self.block_ecc % 2


def _size(rows: int, cols: int, rr: int, rc: int, data: int, ecc: int, blocks: int = 1) -> SymbolSize:
    return SymbolSize(rows, cols, rr, rc, data, ecc, blocks)


SYMBOL_SIZES: tuple[SymbolSize, ...] = (
    _size(10, 10, 8, 8, 3, 5),
    _size(12, 12, 10, 10, 5, 7),
    _size(14, 14, 12, 12, 8, 10),
    _size(16, 16, 14, 14, 12, 12),
    _size(18, 18, 16, 16, 18, 14),
    _size(20, 20, 18, 18, 22, 18),
    _size(22, 22, 20, 20, 30, 20),
    _size(24, 24, 22, 22, 36, 24),
    _size(26, 26, 24, 24, 44, 28),
    _size(32, 32, 14, 14, 62, 36),
    _size(36, 36, 16, 16, 86, 42),
    _size(40, 40, 18, 18, 114, 48),
    _size(44, 44, 20, 20, 144, 56),
    _size(48, 48, 22, 22, 174, 68),
    _size(52, 52, 24, 24, 204, 84, 2),
    _size(64, 64, 14, 14, 280, 112, 2),
    _size(72, 72, 16, 16, 368, 144, 4),
    _size(80, 80, 18, 18, 456, 192, 4),
    _size(88, 88, 20, 20, 576, 224, 4),
    _size(96, 96, 22, 22, 696, 272, 4),
    _size(104, 104, 24, 24, 816, 336, 6),
    _size(120, 120, 18, 18, 1050, 408, 6),
    _size(132, 132, 20, 20, 1304, 496, 8),
    _size(144, 144, 22, 22, 1558, 620, 10),
    _size(8, 18, 6, 16, 5, 7),
    _size(8, 32, 6, 14, 10, 11),
    _size(12, 26, 10, 24, 16, 14),
    _size(12, 36, 10, 16, 22, 18),
    _size(16, 36, 14, 16, 32, 24),
    _size(16, 48, 14, 22, 49, 28),
)
"""Every ECC 200 size, square ones first."""

_BY_SHAPE = {(size.rows, size.cols): size for size in SYMBOL_SIZES}


def symbol_size(rows: int, cols: int) -> SymbolSize | None:
    """The ECC 200 size with this many rows and columns, or None if there is none."""
    return _BY_SHAPE.get((rows, cols))


# --- GF(256), primitive polynomial x^8 + x^5 + x^3 + x^2 + 1 (0x12D), generator alpha = 2 ---------


def _tables() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    exp = np.zeros(512, np.int64)
    log = np.zeros(256, np.int64)
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x12D
    exp[255:510] = exp[:255]
    return exp, log


_EXP, _LOG = _tables()
_EXP_LIST: list[int] = _EXP.tolist()
_LOG_LIST: list[int] = _LOG.tolist()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP_LIST[_LOG_LIST[a] + _LOG_LIST[b]]


def _div(a: int, b: int) -> int:
    if a == 0:
        return 0
    return _EXP_LIST[(_LOG_LIST[a] - _LOG_LIST[b]) % 255]


@functools.cache
def _generator(degree: int) -> tuple[int, ...]:
    """Coefficients (highest power first) of prod_{i=1..degree} (x - alpha^i)."""
    poly = [1]
    for i in range(1, degree + 1):
        root = _EXP_LIST[i]
        poly = [a ^ _mul(b, root) for a, b in zip([*poly, 0], [0, *poly], strict=True)]
    return tuple(poly)


def _block_ecc(data: list[int], degree: int) -> list[int]:
    """Remainder of data(x) * x^degree divided by the generator: the block's ECC codewords."""
    generator = _generator(degree)
    remainder = [0] * degree
    for value in data:
        factor = value ^ remainder[0]
        remainder = [*remainder[1:], 0]
        if factor:
            remainder = [r ^ _mul(g, factor) for r, g in zip(remainder, generator[1:], strict=True)]
    return remainder


def encode(data: npt.ArrayLike, size: SymbolSize) -> npt.NDArray[np.uint8]:
    """The symbol's codewords in placement order: the data, then the interleaved ECC codewords.

    Parameters
    ----------
    data : (size.data_codewords,) array of ints 0..255
        Data codewords (padding included).
    size : SymbolSize

    Returns
    -------
    (size.codewords,) uint8 ndarray

    Raises
    ------
    ValueError
        If ``data`` does not hold exactly ``size.data_codewords`` values 0..255.
    """
    values = np.asarray(data)
    if values.shape != (size.data_codewords,) or values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise ValueError(
            f"data has shape {values.shape} and range {values.min(initial=0)}..{values.max(initial=0)}, "
            f"expected {size.data_codewords} codewords 0..255 for a {size.rows}x{size.cols} symbol"
        )
    codewords = np.zeros(size.codewords, np.uint8)
    codewords[: size.data_codewords] = values
    for block in range(size.blocks):
        members = block_members(size, block)
        data_members = members[members < size.data_codewords]
        codewords[members[members >= size.data_codewords]] = _block_ecc(
            values[data_members].tolist(), size.block_ecc
        )
    return codewords


def block_members(size: SymbolSize, block: int) -> npt.NDArray[np.intp]:
    """Placement-order indices of one Reed–Solomon block's codewords: its data, then its ECC.

    Data codeword i belongs to block i % blocks, and the block's ECC codewords follow the data
    interleaved the same way from their own start (as libdmtx and zxing-cpp write them). Only 144 x
    144 tells the two apart: its 1558 data codewords make eight blocks of 156 and two of 155.
    """
    return np.concatenate(
        [
            np.arange(block, size.data_codewords, size.blocks),
            np.arange(size.data_codewords + block, size.codewords, size.blocks),
        ]
    )


@dataclass(frozen=True, slots=True)
class Correction:
    """The outcome of Reed–Solomon error correction of a symbol's codewords."""

    codewords: npt.NDArray[np.uint8]
    """(size.codewords,) corrected codewords in placement order."""
    errors: tuple[int, ...]
    """Codewords corrected, per block."""


def correct(codewords: npt.ArrayLike, size: SymbolSize) -> Correction | None:
    """Correct the symbol's codewords block by block; None if a block has more errors than it can correct.

    Parameters
    ----------
    codewords : (size.codewords,) array of ints 0..255
        As read from the symbol, in placement order.
    size : SymbolSize

    Returns
    -------
    Correction or None

    Raises
    ------
    ValueError
        If ``codewords`` does not hold exactly ``size.codewords`` values.
    """
    values = np.asarray(codewords)
    if values.shape != (size.codewords,):
        raise ValueError(
            f"codewords has shape {values.shape}, expected ({size.codewords},) for a {size.rows}x{size.cols} "
            "symbol"
        )
    fixed = values.astype(np.uint8)
    errors = []
    for block in range(size.blocks):
        indices = block_members(size, block)
        received = fixed[indices].astype(np.int64)
        result = _correct_block(received, size.block_ecc, size.misdecode_protection)
        if result is None:
            return None
        repaired, count = result
        fixed[indices] = repaired
        errors.append(count)
    return Correction(codewords=fixed, errors=tuple(errors))


def _syndromes(block: npt.NDArray[np.int64], degree: int) -> npt.NDArray[np.int64]:
    """S_j = block(alpha^j) for j = 1..degree, the first codeword being the highest power."""
    n = block.size
    nonzero = block != 0
    logs = _LOG[block[nonzero]]
    powers = (n - 1 - np.flatnonzero(nonzero)).astype(np.int64)
    exponents = (logs[None, :] + np.arange(1, degree + 1)[:, None] * powers[None, :]) % 255
    terms = _EXP[exponents]
    if terms.shape[1] == 0:
        return np.zeros(degree, np.int64)
    result: npt.NDArray[np.int64] = np.bitwise_xor.reduce(terms, axis=1)
    return result


def _evaluate(poly: list[int], exponents: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """poly(alpha^e) for every e in ``exponents``; ``poly`` lowest power first."""
    powers = [power for power, coefficient in enumerate(poly) if coefficient]
    if not powers:
        return np.zeros(exponents.size, np.int64)
    logs = _LOG[[poly[power] for power in powers]]
    terms = _EXP[(logs[None, :] + exponents[:, None] * np.array(powers)[None, :]) % 255]
    result: npt.NDArray[np.int64] = np.bitwise_xor.reduce(terms, axis=1)
    return result


def _correct_block(
    block: npt.NDArray[np.int64], degree: int, protection: int
) -> tuple[npt.NDArray[np.int64], int] | None:
    """Berlekamp–Massey, Chien search and Forney on one block; (corrected block, errors) or None."""
    syndromes = _syndromes(block, degree)
    if not syndromes.any():
        return block, 0
    s = syndromes.tolist()
    # Berlekamp–Massey: the shortest LFSR (error locator, lowest power first) generating the syndromes.
    locator = [1]
    previous = [1]
    length = 0
    shift = 1
    last_discrepancy = 1
    for k in range(degree):
        discrepancy = s[k]
        for i in range(1, length + 1):
            discrepancy ^= _mul(locator[i], s[k - i])
        if discrepancy == 0:
            shift += 1
            continue
        factor = _div(discrepancy, last_discrepancy)
        candidate = locator + [0] * max(0, len(previous) + shift - len(locator))
        for i, value in enumerate(previous):
            candidate[i + shift] ^= _mul(factor, value)
        if 2 * length <= k:
            previous = locator
            length = k + 1 - length
            last_discrepancy = discrepancy
            shift = 1
        else:
            shift += 1
        locator = candidate
    locator = locator[: length + 1]
    if 2 * length > degree - protection:
        return None
    # Chien search: position i (power n-1-i) is in error when locator(alpha^-(n-1-i)) = 0.
    n = block.size
    inverse = (255 - (n - 1 - np.arange(n))) % 255
    positions = np.flatnonzero(_evaluate(locator, inverse) == 0)
    if positions.size != length:
        return None
    # Forney, first consecutive root alpha^1: e = omega(X^-1) / locator'(X^-1).
    omega = [0] * degree
    for i, si in enumerate(s):
        for j, lj in enumerate(locator):
            if i + j < degree:
                omega[i + j] ^= _mul(si, lj)
    # The formal derivative keeps the odd powers (one lower); even ones vanish in GF(2^m).
    derivative = [locator[power] if power % 2 else 0 for power in range(1, len(locator))]
    at = inverse[positions]
    numerators = _evaluate(omega, at)
    denominators = _evaluate(derivative, at)
    if not denominators.all():
        return None
    fixed = block.copy()
    fixed[positions] ^= _EXP[(_LOG[numerators] - _LOG[denominators]) % 255] * (numerators != 0)
    if _syndromes(fixed, degree).any():
        return None
    return fixed, length


# --- Module placement (ISO/IEC 16022 Annex F) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleMap:
    """Where every codeword bit and every fixed-pattern module sits in a symbol of one size."""

    rows: npt.NDArray[np.intp]
    """(codewords, 8) symbol row of each codeword's bits, most significant bit first."""
    cols: npt.NDArray[np.intp]
    """(codewords, 8) symbol column of each codeword's bits."""
    fixed: npt.NDArray[np.int8]
    """(rows, cols) finder, clock and alignment patterns: 1 dark, 0 light, -1 not a fixed pattern."""
    corner_fill: npt.NDArray[np.bool_]
    """(rows, cols) the four modules some sizes leave unused in the lower right of the data area."""


@functools.cache
def module_map(size: SymbolSize) -> ModuleMap:
    """The placement of codewords and fixed patterns in a symbol of ``size`` (computed once per size)."""
    down, across = size.regions
    nrow, ncol = size.region_rows * down, size.region_cols * across
    owner = np.full((nrow, ncol), -1, np.int64)
    bit_of = np.zeros((nrow, ncol), np.int64)

    def module(row: int, col: int, codeword: int, bit: int) -> None:
        if row < 0:
            row += nrow
            col += 4 - ((nrow + 4) % 8)
        if col < 0:
            col += ncol
            row += 4 - ((ncol + 4) % 8)
        owner[row, col] = codeword
        bit_of[row, col] = bit

    def utah(row: int, col: int, codeword: int) -> None:
        for bit, (dr, dc) in enumerate(
            ((-2, -2), (-2, -1), (-1, -2), (-1, -1), (-1, 0), (0, -2), (0, -1), (0, 0))
        ):
            module(row + dr, col + dc, codeword, bit)

    def corner(cells: tuple[tuple[int, int], ...], codeword: int) -> None:
        for bit, (row, col) in enumerate(cells):
            module(row, col, codeword, bit)

    # The four special corner shapes of Annex F, each as its eight (row, col), bit 1 first.
    last_row, last_col = nrow - 1, ncol - 1
    corners = (
        ((last_row, 0), (last_row, 1), (last_row, 2), (0, last_col - 1), (0, last_col), (1, last_col),
         (2, last_col), (3, last_col)),
        ((last_row - 2, 0), (last_row - 1, 0), (last_row, 0), (0, last_col - 3), (0, last_col - 2),
         (0, last_col - 1), (0, last_col), (1, last_col)),
        ((last_row - 2, 0), (last_row - 1, 0), (last_row, 0), (0, last_col - 1), (0, last_col),
         (1, last_col), (2, last_col), (3, last_col)),
        ((last_row, 0), (last_row, last_col), (0, last_col - 2), (0, last_col - 1), (0, last_col),
         (1, last_col - 2), (1, last_col - 1), (1, last_col)),
    )  # fmt: skip
    codeword = 0
    row, col = 4, 0
    while True:
        if row == nrow and col == 0:
            corner(corners[0], codeword)
            codeword += 1
        if row == nrow - 2 and col == 0 and ncol % 4:
            corner(corners[1], codeword)
            codeword += 1
        if row == nrow - 2 and col == 0 and ncol % 8 == 4:
            corner(corners[2], codeword)
            codeword += 1
        if row == nrow + 4 and col == 2 and not ncol % 8:
            corner(corners[3], codeword)
            codeword += 1
        while True:  # up and to the right
            if row < nrow and col >= 0 and owner[row, col] < 0:
                utah(row, col, codeword)
                codeword += 1
            row -= 2
            col += 2
            if not (row >= 0 and col < ncol):
                break
        row += 1
        col += 3
        while True:  # down and to the left
            if row >= 0 and col < ncol and owner[row, col] < 0:
                utah(row, col, codeword)
                codeword += 1
            row += 2
            col -= 2
            if not (row < nrow and col >= 0):
                break
        row += 3
        col += 1
        if not (row < nrow or col < ncol):
            break
    if codeword != size.codewords:
        raise AssertionError(
            f"placed {codeword} codewords in a {size.rows}x{size.cols} symbol, expected {size.codewords}"
        )
    # Mapping-matrix row and column -> symbol row and column: each region adds its finder and clock.
    map_rows = np.arange(nrow)
    map_cols = np.arange(ncol)
    symbol_rows = map_rows // size.region_rows * (size.region_rows + 2) + map_rows % size.region_rows + 1
    symbol_cols = map_cols // size.region_cols * (size.region_cols + 2) + map_cols % size.region_cols + 1
    placed = owner >= 0
    rows = np.zeros((size.codewords, 8), np.intp)
    cols = np.zeros((size.codewords, 8), np.intp)
    map_r, map_c = np.nonzero(placed)
    rows[owner[placed], bit_of[placed]] = symbol_rows[map_r]
    cols[owner[placed], bit_of[placed]] = symbol_cols[map_c]
    corner_fill = np.zeros((size.rows, size.cols), np.bool_)
    corner_fill[np.ix_(symbol_rows, symbol_cols)] = ~placed
    return ModuleMap(rows=rows, cols=cols, fixed=_fixed_pattern(size), corner_fill=corner_fill)


def _fixed_pattern(size: SymbolSize) -> npt.NDArray[np.int8]:
    """Each data region's L finder (left, bottom: dark) and clock tracks (top, right: alternating)."""
    fixed = np.full((size.rows, size.cols), -1, np.int8)
    block_rows, block_cols = size.region_rows + 2, size.region_cols + 2
    local_row = np.arange(size.rows) % block_rows
    local_col = np.arange(size.cols) % block_cols
    top = local_row == 0
    bottom = local_row == block_rows - 1
    left = local_col == 0
    right = local_col == block_cols - 1
    # Later assignments win: the L wins over the clock tracks where they meet.
    fixed[top, :] = (local_col % 2 == 0)[None, :]
    fixed[:, right] = (local_row % 2 == 1)[:, None]
    fixed[bottom, :] = 1
    fixed[:, left] = 1
    return fixed


def read_codewords(dark: npt.NDArray[np.bool_], size: SymbolSize) -> npt.NDArray[np.uint8]:
    """The codewords a module grid holds.

    Parameters
    ----------
    dark : (size.rows, size.cols) bool ndarray
        True where a module is dark (ink), in the symbol's own orientation (L finder left and bottom).
    size : SymbolSize

    Returns
    -------
    (size.codewords,) uint8 ndarray
        In placement order.
    """
    layout = module_map(size)
    bits = dark[layout.rows, layout.cols].astype(np.uint8)
    weights = np.array([128, 64, 32, 16, 8, 4, 2, 1], np.uint8)
    result: npt.NDArray[np.uint8] = (bits * weights).sum(axis=1, dtype=np.uint16).astype(np.uint8)
    return result


def place_codewords(codewords: npt.ArrayLike, size: SymbolSize) -> npt.NDArray[np.bool_]:
    """The module grid of a symbol holding ``codewords``: fixed patterns, data and corner fill.

    Parameters
    ----------
    codewords : (size.codewords,) array of ints 0..255
        In placement order (as ``encode`` returns them).
    size : SymbolSize

    Returns
    -------
    (size.rows, size.cols) bool ndarray
        True where a module is dark.
    """
    layout = module_map(size)
    values = np.asarray(codewords, np.uint8)
    dark: npt.NDArray[np.bool_] = layout.fixed == 1
    bits = (values[:, None] >> np.arange(7, -1, -1, dtype=np.uint8)[None, :]) & 1
    dark[layout.rows, layout.cols] = bits.astype(np.bool_)
    # ISO/IEC 16022 F.3: an unused corner gets dark modules at its lower right and upper left.
    fill_rows, fill_cols = np.nonzero(layout.corner_fill)
    if fill_rows.size:
        bottom, right = fill_rows.max(), fill_cols.max()
        dark[fill_rows, fill_cols] = (fill_rows == bottom) == (fill_cols == right)
    return dark
