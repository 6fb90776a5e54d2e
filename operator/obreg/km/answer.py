"""One Key Manager answer's body, read within budgets.KM_ANSWER_BYTES on the wire and
again after decompression.

A KM (or whatever answers in its place) is not trusted to end its answer, nor to send a
compressed body that inflates to a sane size: aiohttp reads a body whole and inflates it
with no cap, so an endless answer or a 2 MB gzip bomb took gigabytes. Here the body is
read in the pieces the socket delivers, counted as it comes, and inflated by zlib with a
cap on what each piece may produce, so memory stays within the budget whatever is sent.
The time it takes is the caller's total timeout (aiohttp applies it to every read of the
body), so an answer that drips a byte at a time is bounded too.
"""

from __future__ import annotations

import zlib

import aiohttp

from ..budgets import KM_ANSWER_BYTES

# What the client advertises in Accept-Encoding: exactly what read() inflates.
ACCEPTED = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class Unreadable(ValueError):
    """An answer over the budget, in an encoding obreg does not read, or whose
    compressed body is broken. Its text may quote the Content-Encoding header."""


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _inflater(codings: list[str]) -> zlib._Decompress | None:
    """A zlib inflater for the one content coding gzip or deflate, None for none."""
    named = [c for c in (c.strip().lower() for c in ",".join(codings).split(",")) if c]
    named = [c for c in named if c != "identity"]
    if not named:
        return None
    if len(named) == 1 and named[0] in _WBITS:
        return zlib.decompressobj(_WBITS[named[0]])
    raise Unreadable(
        f"an answer in a content coding obreg does not read (Content-Encoding: {', '.join(named)})"
    )


async def read(response: aiohttp.ClientResponse, budget: int = KM_ANSWER_BYTES) -> bytes:
    """The body, decompressed, or Unreadable once it passes ``budget`` bytes either way.
    The response must have been requested with ``auto_decompress=False``."""
    inflater = _inflater(response.headers.getall("Content-Encoding", []))
    too_large = Unreadable(f"answer larger than {_mib(budget)}")
    body, wire = bytearray(), 0
    async for piece in response.content.iter_any():
        wire += len(piece)
        if wire > budget:
            raise too_large
        if inflater is None:
            body += piece
            continue
        try:
            # At most one byte over what is left: enough to know the budget is passed,
            # never more than it (input left over waits in unconsumed_tail, unread).
            body += inflater.decompress(piece, budget + 1 - len(body))
        except zlib.error:
            raise Unreadable("a compressed answer that does not inflate") from None
        if len(body) > budget:
            raise too_large
    if inflater is not None and not inflater.eof:
        raise Unreadable("a compressed answer that ends before its end")
    return bytes(body)
