"""The embedded KIS simulator: a real HTTP server on 127.0.0.1 that behaves like the Korea
Investment & Securities Open API, strict enough that what works against it works against KIS.

It is the toolkit's default backend when no credentials are set::

    from kisresearch.sim import Simulator, Faults

    with Simulator(profile="real", faults=Faults(html_500=0.01)) as sim:
        sim.base_url, sim.app_key, sim.app_secret, sim.account
        sim.truth()  # what the server saw: accepted/rejected calls, tokens, max_in_window ...

Modules:

- :mod:`.simulator` -- :class:`Simulator`: configuration, lifecycle, credentials, admin
- :mod:`.server` -- the threaded HTTP/1.1 server
- :mod:`.gateway` -- the request flow: OAuth, authentication, faults, rate window, dispatch
- :mod:`.rules` -- :class:`Faults`, the rate window, tokens, truth counters
- :mod:`.routes` -- endpoints, TR ids and parameter checks; the error codes chosen
- :mod:`.market`, :mod:`.quotes`, :mod:`.charts`, :mod:`.overseas`, :mod:`.account` -- data
- :mod:`.master` -- the fixed-width master files (layout documented there)
- :mod:`.timebase` -- the simulator's clock, KST and the KRX calendar
- :mod:`.universe`, :mod:`.make_universe` -- the shipped symbol universe
- :mod:`.probe` -- :class:`~kisresearch.sim.probe.RawClient`, a bare caller for probing servers

What the simulator tolerates
----------------------------
As strict as KIS and no stricter: a rule is enforced only where the evidence says KIS enforces
it, and where the evidence is thin the most lenient plausible answer is taken.

=================================  ==========================================  ==========  ====
rule                               the simulator                               evidence    conf.
=================================  ==========================================  ==========  ====
``custtype`` header                absent: taken as ``P``; other than P/B:     [1] [2]     mid
                                   EGW00208
header names                       any case (HTTP says so)                     RFC 9110    high
query parameter names              any case (``fid_input_iscd`` works)         [3]         mid
balance, first page                ``CTX_AREA_FK100``/``NK100`` may be absent  [4]         low
balance ``INQR_DVSN``              ``01`` only; ``02``: OPSQ2001 (rt_cd 2)     [5]         high
balance, next page                 a valid ``CTX_AREA_NK100`` continues, with  [11]        low
                                   or without ``tr_cont: N``; more pages:
                                   response ``tr_cont`` M on every page
chart ``FID_INPUT_DATE_1``/``_2``  blank or ``0000....``: from the first day;  [6]         mid
                                   blank end: today
minute ``FID_INPUT_HOUR_1``        blank or ``000000``: the latest bars        [6]         mid
minute hour before today's open    the last session's bars from its close      [12]        low
unknown symbol, quote and charts   HTTP 200, rt_cd 0, ``stck_prpr`` "0",       [7]         mid
                                   numbers "0", text blank, no rows
unknown overseas ticker            HTTP 200, rt_cd 0, every field blank        [8]         mid
product search with no such        HTTP 200, rt_cd 7 (msg_cd KIOK0560 ours)    [9]         mid
product (CTPF1604R/CTPF1002R)
documented quote fields            ``bstp_kor_isnm`` left out for ~2% of       [10]        high
                                   symbols (a fixed set)
=================================  ==========================================  ==========  ====

[1] python-kis issue #81 (2026-02) quotes a request to the real domain without ``custtype``
answered at the business level. [2] KIS's API pages mark ``custtype`` required on some TRs and
optional on others; none of python-kis 2.1.6, korea-investment-stock 0.19/0.5 or mojito2 0.1.6
sends it (seen on the wire). [3] mojito2 0.1.6 (quote, 30-day prices, today's minute bars) and
korea-investment-stock 0.5 (quote) send ``fid_*`` in lower case, python-kis 2.1.6 sends
``ctx_area_fk100``/``nk100`` in lower case, all against the real server; KIS's pages ask for
upper case only in POST bodies. [4] Every client seen sends the context areas empty on a first
page; leaving them out is unconfirmed, so the lenient answer is taken. [5] python-kis PR #82,
quoting KIS's notice of 2026-02-10 ("ERROR : INPUT INVALID_CHECK_INQR_DVSN"). [6] The
defaults python-kis 2.1.6 and korea-investment-stock 0.19 send, both written against the real
server (docs/peer-clients.md 1.1, 1.3). [7] python-kis reads ``stck_prpr == "0"`` on a success
as "not found" in its quote, daily and minute charts (since 2023-09); whether the other fields
are "0" or blank is unconfirmed. [8] python-kis (``last`` blank) and korea-investment-stock
(``rsym`` blank) for a ticker on the wrong exchange; python-kis issue #47. [9] Both clients
move to the next product type on ``rt_cd`` 7 "조회할 자료가 없습니다". [10] python-kis issue #48:
18 of 815 KOSPI stocks' answers lacked it. [11] KIS's balance page asks for ``tr_cont: N``
and documents F or M for "more"; mojito2 0.1.6 pages only while the header is M and never
sends N; python-kis and KIS's sample accept F and M alike. [12] mojito2 0.1.6 sends the
caller's clock (``05:15``) and pages back by the hours it gets; before a session opens the
latest bars are the last session's, so the lenient answer is taken.
The research behind this table: ``docs/peer-clients.md``.

Admin endpoints (no auth, never rate limited or faulted): ``GET /__sim/truth``,
``GET /__sim/info`` (base URL, profile, credentials), ``POST /__sim/reset``,
``POST /__sim/advance?seconds=N``, ``POST /__sim/expire_tokens`` and ``POST /__sim/faults``
(a JSON object of :class:`Faults` fields; ``{}`` clears them).
"""

from .rules import Faults
from .simulator import Simulator

__all__ = ["Faults", "Simulator"]
