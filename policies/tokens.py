"""Token counting: exact (tiktoken cl100k_base) where a decision depends on it, cheap elsewhere.

Upstream models use many tokenizers (Qwen, DeepSeek, StarCoder...); none of them is free
to load in-process, and cl100k_base is a close, slightly generous stand-in for code in all
of them (it splits code a little finer than o200k). Budgets in the policies are set with
that margin in mind. Why not o200k_base: it costs ~75 MB resident per worker and 0.6 s to
load; cl100k_base ~40 MB and 0.3 s (measured here), which keeps a worker near 100 MB.

The encoding comes from the files litellm bundles in its package, located without
importing litellm (that import costs seconds), so counting never touches the network.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import math
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger(__name__)

ENCODING = "cl100k_base"
# tiktoken caches a downloaded encoding under sha1(url); litellm ships these files.
_URL = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"

# Chars per token in o200k (cl100k splits code slightly finer), measured on ASCII source
# files (first 20 kB of each):
#   Python p5 3.8 / median 4.4, C headers p5 2.6 / median 3.7, .pyi p5 3.0, minified JS ~2.2.
# 2.8 overestimates typical code by 30-60% and underestimates only dense code (short
# identifiers, numbers, minified bundles) by up to ~20%: the safe side for a cheap figure.
ASCII_CHARS_PER_TOKEN = 2.8
# Non-ASCII text is costed by UTF-8 bytes: CJK is ~1 token per 3-byte char, accents ~2 bytes.
NON_ASCII_BYTES_PER_TOKEN = 2.5


def estimate(text: str) -> int:
    """Cheap upper-leaning estimate: O(1) for ASCII text (str.isascii is a flag check)."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / ASCII_CHARS_PER_TOKEN)
    return math.ceil(len(text) * _bytes_per_char(text) / NON_ASCII_BYTES_PER_TOKEN)


def _bytes_per_char(text: str) -> float:
    """UTF-8 bytes per char from a few samples: encoding all of a 400 kB text costs 0.4 ms."""
    if len(text) <= 4 * _SAMPLE:
        return len(text.encode("utf-8", "surrogatepass")) / len(text)
    step = (len(text) - _SAMPLE) // 3
    size = sum(len(text[i:i + _SAMPLE].encode("utf-8", "surrogatepass"))
               for i in range(0, 4 * step, step))
    return size / (4 * _SAMPLE)


_SAMPLE = 1024


def upper_bound(text: str) -> int:
    """A hard ceiling: no BPE token is shorter than one UTF-8 byte."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def tokenizer_dir() -> str | None:
    """litellm's bundled tiktoken folder, found without importing litellm."""
    override = os.environ.get("CUSTOM_TIKTOKEN_CACHE_DIR")  # litellm's own override knob
    if override:
        return override
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "litellm_core_utils", "tokenizers")
        if os.path.isdir(path):
            return path
    return None


@functools.cache
def _encoder() -> Callable[[str], list[int]] | None:
    """Load the encoding once per process; None (and one warning) when it cannot load."""
    folder = tokenizer_dir()
    cached = os.path.join(folder, hashlib.sha1(_URL.encode()).hexdigest()) if folder else None
    # Without the bundled file tiktoken would download it: refuse, the request path has no
    # business on the network.
    if cached is None or not os.path.isfile(cached):
        log.warning("token counting: %s not bundled (looked in %s); using estimates",
                    ENCODING, folder)
        return None
    try:
        enc = _load(cached)
    except Exception as exc:  # any failure means "estimate", never a failed request
        log.warning("token counting: cannot load %s (%s); using estimates", ENCODING, exc)
        return None
    # encode_ordinary: prompts legitimately contain "<|endoftext|>" and friends as text.
    return enc.encode_ordinary


# cl100k_base's split pattern and special tokens (tiktoken_ext/openai_public.py): the
# encoding is built from the bundled file alone, since tiktoken's own loader finds its
# files through an environment variable, and the environment is not the proxy's to change.
_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
            r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_SPECIAL = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}


def _load(path: str) -> tiktoken.Encoding:
    import base64

    import tiktoken

    with open(path, "rb") as f:
        ranks = {base64.b64decode(token): int(rank)
                 for token, rank in (line.split() for line in f.read().splitlines() if line)}
    return tiktoken.Encoding(ENCODING, pat_str=_PATTERN, mergeable_ranks=ranks,
                             special_tokens=_SPECIAL)


def warm() -> bool:
    """Load the encoding now rather than on the first count."""
    return _encoder() is not None


# Deferred loading (the proxy): most requests never need an exact count (a prompt whose
# UTF-8 size is within its budget fits), so the encoding (~40 MB, ~0.3 s) is loaded in a
# thread the first time a count is asked for, and until it is there counts answer the
# upper bound: never below the true count, so no budget is ever exceeded (the first big
# prompts are merely trimmed a little harder).
_deferred = False
_loader: threading.Thread | None = None


def defer() -> None:
    """From now on, load the encoding lazily in a background thread (see above)."""
    global _deferred
    _deferred = True


def _loaded() -> bool:
    return _encoder.cache_info().currsize > 0


def _start_loading() -> None:
    global _loader
    if _loader is None:
        _loader = threading.Thread(target=warm, name="laneway-tokenizer", daemon=True)
        _loader.start()


def exact() -> bool:
    return _encoder() is not None


def count(text: str) -> int:
    """Exact cl100k_base token count (falls back to estimate if the encoding cannot load;
    answers the upper bound while a deferred encoding is still loading)."""
    if not text:
        return 0
    if _deferred and not _loaded():
        _start_loading()
        return upper_bound(text)
    enc = _encoder()
    return len(enc(text)) if enc is not None else estimate(text)


def count_upto(text: str, limit: int) -> int:
    """Exact count when it is at most ``limit``; otherwise some value above ``limit``.

    Costs O(limit), not O(len(text)): a 400 kB text is judged from a slice a few times the
    limit long, since a leading slice never has many more tokens than the whole.
    """
    if upper_bound(text) <= limit:
        return count(text)
    span = max(256, limit * 6)
    while span < len(text):
        head = count(text[:span])
        if head > limit:
            return head
        span *= 4
    return count(text)
