"""``balance()`` end to end: KIS's tr_cont paging (50 a page on real, 20 on paper)."""

from __future__ import annotations

import pytest

import kisresearch as kr
from kisresearch.errors import ConfigError


def holdings_of(kis: kr.KIS) -> int:
    return len(kis.sim.accounts[kis.sim.account].holdings)


@pytest.mark.parametrize(
    ("profile", "tr_id", "pages"), [("real", "TTTC8434R", 2), ("paper", "VTTC8434R", 4)]
)
def test_balance_pages_through_every_holding(home, profile, tr_id, pages):
    with kr.KIS.simulator(profile=profile, rate=200, progress=False) as kis:
        holdings, summary = kis.balance()
        truth = kis.sim.truth()
        expected = [h.code for h in kis.sim.accounts[kis.sim.account].holdings]
    assert holdings_of(kis) == 65
    assert holdings.index.tolist() == expected  # all of them, once each, in KIS's order
    assert truth["by_tr_id"] == {tr_id: pages} and holdings.attrs["pages"] == pages
    assert holdings.attrs["tr_id"] == tr_id
    assert holdings["quantity"].dtype == "int64" and (holdings["quantity"] > 0).all()
    assert summary["stock_value"] == holdings["value"].sum()  # one summary, not one per page
    assert summary["purchase_total"] == holdings["purchase_amount"].sum()
    assert summary["total_value"] == summary["cash"] + summary["stock_value"]


def test_balance_is_not_cached(home):
    with kr.KIS.simulator(rate=200, progress=False) as kis:
        first = kis.balance()
        again = kis.balance()
        assert kis.sim.truth()["by_tr_id"]["TTTC8434R"] == 4
    assert again.holdings.attrs["from_cache"] == 0
    assert again.holdings.index.tolist() == first.holdings.index.tolist()


def test_balance_cached_when_asked(home):
    with kr.KIS.simulator(rate=200, progress=False, cache_ttl={"balance": 60}) as kis:
        kis.balance()
        again = kis.balance()
        assert kis.sim.truth()["by_tr_id"]["TTTC8434R"] == 2
    assert again.holdings.attrs["from_cache"] == 1 and again.holdings.attrs["pages"] == 0
    assert len(again.holdings) == 65


@pytest.mark.parametrize("account", [None, "1234", "12345678-123", "abcdefgh-01"])
def test_balance_needs_a_well_formed_account(sim, home, account):
    with (
        kr.KIS(sim.app_key, sim.app_secret, account, base_url=sim.base_url, progress=False) as kis,
        pytest.raises(ConfigError, match="KIS_ACCOUNT") as info,
    ):
        kis.balance()
    if account:
        assert account not in str(info.value)  # an account number is a credential
    truth = sim.truth()
    assert truth["accepted"] == 0 and truth["tokens_issued"] == 0


@pytest.mark.parametrize("digits_only", [True, False])
def test_both_account_forms_work(sim, home, digits_only):
    account = sim.account.replace("-", "") if digits_only else sim.account
    with kr.KIS(sim.app_key, sim.app_secret, account, base_url=sim.base_url, progress=False) as kis:
        holdings, _ = kis.balance()
    assert len(holdings) == 65


def test_the_account_number_shows_in_no_traceback_and_no_debug_line(home, caplog):
    import logging
    import traceback

    from kisresearch.errors import ConnectionFailed
    from kisresearch.pipeline.retry import RetryPolicy

    once = RetryPolicy(max_attempts=1)
    with kr.KIS.simulator(rate=200, progress=False, retry=once) as kis:
        cano = kis.sim.account.split("-")[0]
        with caplog.at_level(logging.DEBUG):  # the root at DEBUG: urllib3's lines show
            kis.balance()
        assert "inquire-balance" in caplog.text and cano not in caplog.text
        kis.sim.stop()  # the next balance call cannot connect: requests' error has the URL
        with pytest.raises(ConnectionFailed) as caught:
            kis.balance()
    shown = "".join(traceback.format_exception(caught.value))  # chained causes included
    assert "connection to" in shown and "CANO=***" in shown
    assert cano not in shown and cano not in repr(caught.value)
