"""CRC-32 combination, so a streamed entry's checksum can be finished after its length is known.

``crc32_combine(crc32(a), crc32(b), len(b)) == crc32(a + b)``; same algorithm as zlib's
(polynomial arithmetic modulo the reflected CRC-32 polynomial).
"""

from __future__ import annotations

_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """Multiply two polynomials modulo the CRC polynomial (reflected bit order)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    p = 1 << 30  # x^1
    table = [p]
    for _ in range(31):
        p = _multmodp(p, p)
        table.append(p)
    return table


_X2N = _x2n_table()  # x^(2^n) mod p


def _x8nmodp(length: int) -> int:
    """x^(8 * length) mod p: the shift that appending ``length`` zero bytes applies."""
    p = 1 << 31  # x^0
    k = 3
    while length:
        if length & 1:
            p = _multmodp(_X2N[k & 31], p)
        length >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The crc32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``."""
    if len2 < 0:
        raise ValueError("len2 must not be negative")
    return _multmodp(_x8nmodp(len2), crc1) ^ crc2
