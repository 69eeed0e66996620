"""The response cache: storage (``disk``), policy (``policy``) and the cache itself (``responses``).

A diskcache ``Cache`` whose disk holds JSON only (:mod:`.disk`); a pure policy decides whether an
answer is stored and for how long (:mod:`.policy`); :class:`ResponseCache` joins them
(:mod:`.responses`).
"""

from ...errors import UnsafeRow
from .policy import POLICIES, CachePolicy, cache_key
from .responses import CachedEntry, ResponseCache, cacheable, default_cache

__all__ = [
    "POLICIES",
    "CachePolicy",
    "CachedEntry",
    "ResponseCache",
    "UnsafeRow",
    "cache_key",
    "cacheable",
    "default_cache",
]
