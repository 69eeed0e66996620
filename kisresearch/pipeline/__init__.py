"""The way one request goes, one stage per module, in call order.

::

    methods/ plan a request (plan/endpoints.py), then flow.Pipeline.fetch:
      batch.py        BatchRunner: bounded worker pool, one Outcome per item, progress
      cache/          ResponseCache.get -> a hit returns here (policy.py decides the TTL,
                      disk.py keeps JSON only); on a miss, for every page:
        retry.py      tenacity: EGW00201 and transport faults -> capped backoff, again
          auth.py     TokenManager.headers(): token from disk, one issuance a minute at most
          ratelimit/  Limiter.acquire(): one pure decision (decide.py) on a shared state
                      (stores.py: memory, file, Redis)
          transport.py  Transport.send(): requests.Session, timeout, body -> error
        observe/stats.py hears every attempt, wait, retry and cache lookup
      cache/          ResponseCache.set(): the merged pages, for the policy's TTL
    shape/frames.py turns the answers into a typed frame

Auth headers come *before* the limiter slot: a token issuance between the slot and the send
would let calls reserved apart leave together. The stages import nothing of the client and
none of each other's private names; :mod:`.flow` composes them.
"""
