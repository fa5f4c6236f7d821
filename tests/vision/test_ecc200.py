"""ECC 200 structure: sizes, Annex F placement and Reed–Solomon, checked against zxing-cpp's encoder."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from vision import ecc200
from vision.ecc200 import SYMBOL_SIZES, SymbolSize


def zxing_symbol(length: int, seed: int = 0) -> npt.NDArray[np.bool_]:
    """A square symbol from zxing-cpp holding ``length`` random characters: True where dark."""
    rng = np.random.default_rng([seed, length])
    content = "".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef!#"), length))
    barcode = zxingcpp.create_barcode(content, zxingcpp.DataMatrix, forceSquare=True)
    image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False))
    dark: npt.NDArray[np.bool_] = image == 0
    return dark


@functools.cache
def square_symbols() -> dict[int, npt.NDArray[np.bool_]]:
    """One zxing-cpp symbol of every square size it makes from up to 1500 characters, by side."""
    found: dict[int, npt.NDArray[np.bool_]] = {}
    for length in [*range(1, 60), *range(60, 1500, 4)]:
        dark = zxing_symbol(length)
        found.setdefault(dark.shape[0], dark)
    return found


SQUARE_SIDES = tuple(s.rows for s in SYMBOL_SIZES if s.rows == s.cols and s.rows < 144)


class TestSizes:
    """The ECC 200 size table."""

    def test_codewords_fill_the_data_regions(self) -> None:
        """Every size's codewords and any unused corner fill its data regions exactly, 8 modules each."""
        for size in SYMBOL_SIZES:
            down, across = size.regions
            modules = size.region_rows * down * size.region_cols * across
            assert modules - 8 * size.codewords in (0, 4), size
            assert size.rows == down * (size.region_rows + 2) and size.cols == across * (size.region_cols + 2)

    def test_lookup(self) -> None:
        """symbol_size finds a size by rows and columns and refuses shapes ECC 200 does not have."""
        size = ecc200.symbol_size(24, 24)
        assert size is not None and size.data_codewords == 36 and size.ecc_codewords == 24
        assert ecc200.symbol_size(8, 18) is not None
        assert ecc200.symbol_size(18, 8) is None
        assert ecc200.symbol_size(25, 25) is None

    def test_misdecode_protection(self) -> None:
        """An odd number of ECC codewords per block keeps one for detection (10x10: 5, 2 errors)."""
        small = ecc200.symbol_size(10, 10)
        large = ecc200.symbol_size(144, 144)
        assert small is not None and small.misdecode_protection == 1
        assert large is not None and large.block_ecc == 62 and large.misdecode_protection == 0


class TestPlacement:
    """Annex F placement against symbols zxing-cpp encodes."""

    @pytest.mark.parametrize("side", SQUARE_SIDES)
    def test_read_and_place_round_trip(self, side: int) -> None:
        """Codewords read from a zxing-cpp symbol have no errors, and placing them rebuilds the symbol."""
        dark = square_symbols()[side]
        size = ecc200.symbol_size(*dark.shape)
        assert size is not None
        layout = ecc200.module_map(size)
        fixed = layout.fixed >= 0
        assert (dark[fixed] == (layout.fixed[fixed] == 1)).all()
        codewords = ecc200.read_codewords(dark, size)
        corrected = ecc200.correct(codewords, size)
        assert corrected is not None and set(corrected.errors) == {0}
        assert (ecc200.place_codewords(codewords, size) == dark).all()

    def test_144_interleaving(self) -> None:
        """A 144x144 symbol from zxing-cpp (blocks of 156 and 155 data codewords) reads without errors."""
        digits = "".join(np.random.default_rng(1).choice(list("0123456789"), 3000))
        barcode = zxingcpp.create_barcode(digits, zxingcpp.DataMatrix, forceSquare=True)
        dark = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False)) == 0
        size = ecc200.symbol_size(*dark.shape)
        assert size is not None and (size.rows, size.cols) == (144, 144)
        corrected = ecc200.correct(ecc200.read_codewords(dark, size), size)
        assert corrected is not None and corrected.errors == (0,) * 10

    @pytest.mark.parametrize("size", [s for s in SYMBOL_SIZES if s.rows != s.cols or s.rows == 144])
    def test_other_sizes_round_trip(self, size: SymbolSize) -> None:
        """Rectangles and 144x144 (no zxing-cpp symbol here): encode, place, read back, correct."""
        rng = np.random.default_rng(size.rows * 1000 + size.cols)
        codewords = ecc200.encode(rng.integers(0, 256, size.data_codewords), size)
        dark = ecc200.place_codewords(codewords, size)
        assert (ecc200.read_codewords(dark, size) == codewords).all()
        corrected = ecc200.correct(codewords, size)
        assert corrected is not None and set(corrected.errors) == {0}

    def test_every_module_has_one_role(self) -> None:
        """A module is fixed pattern, a codeword bit or corner fill, never two of them."""
        for size in SYMBOL_SIZES:
            layout = ecc200.module_map(size)
            roles = (layout.fixed >= 0).astype(int) + layout.corner_fill
            np.add.at(roles, (layout.rows, layout.cols), 1)
            assert (roles == 1).all(), size


class TestReedSolomon:
    """Error correction over GF(256), polynomial 0x12D, first root alpha^1."""

    def test_encode_matches_zxing(self) -> None:
        """ECC codewords computed from a zxing-cpp symbol's data equal the symbol's own."""
        dark = zxing_symbol(100)
        size = ecc200.symbol_size(*dark.shape)
        assert size is not None
        codewords = ecc200.read_codewords(dark, size)
        assert (ecc200.encode(codewords[: size.data_codewords], size) == codewords).all()

    @settings(max_examples=60, deadline=None)
    @given(
        index=st.integers(0, len(SYMBOL_SIZES) - 1),
        seed=st.integers(0, 2**32 - 1),
        share=st.floats(0.0, 1.0),
    )
    def test_corrects_up_to_capacity(self, index: int, seed: int, share: float) -> None:
        """Up to (d - p) / 2 wrong codewords per block are corrected and counted exactly."""
        size = SYMBOL_SIZES[index]
        rng = np.random.default_rng(seed)
        clean = ecc200.encode(rng.integers(0, 256, size.data_codewords), size)
        capacity = (size.block_ecc - size.misdecode_protection) // 2
        damaged = clean.copy()
        wanted = []
        for block in range(size.blocks):
            members = ecc200.block_members(size, block)
            count = round(share * capacity)
            hit = rng.choice(members, count, replace=False)
            damaged[hit] ^= rng.integers(1, 256, count).astype(np.uint8)
            wanted.append(count)
        corrected = ecc200.correct(damaged, size)
        assert corrected is not None
        assert (corrected.codewords == clean).all()
        assert corrected.errors == tuple(wanted)

    def test_too_many_errors(self) -> None:
        """A block with more errors than it can correct is refused (the symbol does not decode)."""
        size = ecc200.symbol_size(24, 24)
        assert size is not None
        rng = np.random.default_rng(3)
        damaged = ecc200.encode(rng.integers(0, 256, size.data_codewords), size)
        damaged[: size.codewords // 2] ^= 0x5A
        assert ecc200.correct(damaged, size) is None

    def test_wrong_lengths(self) -> None:
        """Codeword arrays of the wrong length raise ValueError naming them."""
        size = SYMBOL_SIZES[0]
        with pytest.raises(ValueError, match="codewords"):
            ecc200.correct(np.zeros(size.codewords + 1, np.uint8), size)
        with pytest.raises(ValueError, match="data"):
            ecc200.encode(np.zeros(size.data_codewords - 1, np.uint8), size)
