"""Specification of :mod:`forexbot.engine.exposure` (rules in the module docstring)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from symbol_specs import EURUSD

from forexbot.domain.market import SymbolSpec
from forexbot.domain.trading import Side
from forexbot.engine.exposure import Holding, breaches, currency_exposure, legs, notional

# On a USD account one point of EURGBP is worth 1 GBP per lot, i.e. 1.25 USD at GBPUSD 1.25.
EURGBP = replace(EURUSD, name="EURGBP", tick_value=1.25, currency_profit="GBP")
GBPUSD = replace(EURUSD, name="GBPUSD", currency_base="GBP")
USDJPY = replace(
    EURUSD,
    name="USDJPY",
    digits=3,
    point=0.001,
    tick_size=0.001,
    tick_value=100 / 150,  # 100 JPY per point and lot, at USDJPY 150
    currency_base="USD",
    currency_profit="JPY",
)
V75 = replace(
    EURUSD,
    name="Volatility 75 Index",
    digits=2,
    point=0.01,
    tick_size=0.01,
    tick_value=0.01,
    contract_size=1,
    currency_base="USD",
    currency_profit="USD",
)
SPECS = {spec.name: spec for spec in (EURUSD, EURGBP, GBPUSD, USDJPY, V75)}


def spec_of(symbol: str) -> SymbolSpec:
    return SPECS[symbol]


def exposure(*holdings: Holding, account: str = "USD") -> dict[str, float]:
    return currency_exposure(holdings, spec_of, account)


# --- notional ---------------------------------------------------------------------------------


def test_one_lot_of_eurusd_at_1_10_is_110_000_of_account_currency() -> None:
    assert notional(EURUSD, 1.0, 1.10) == pytest.approx(110_000)


@pytest.mark.parametrize(
    ("spec", "volume", "price"),
    [(EURUSD, 0.37, 1.0834), (EURGBP, 2.0, 0.8512), (USDJPY, 0.5, 151.234), (V75, 3.0, 412_345)],
)
def test_notional_is_volume_times_price_times_tick_value_over_tick_size(
    spec: SymbolSpec, volume: float, price: float
) -> None:
    expected = volume * price * spec.tick_value / spec.tick_size

    assert notional(spec, volume, price) == pytest.approx(expected)


def test_usdjpy_notional_on_a_usd_account_is_its_contract_in_dollars() -> None:
    assert notional(USDJPY, 1.0, 150.0) == pytest.approx(100_000)


def test_a_symbol_without_a_tick_size_has_no_notional() -> None:
    assert notional(replace(EURUSD, tick_size=0.0), 1.0, 1.1) == 0.0


# --- legs -------------------------------------------------------------------------------------


def test_a_buy_of_a_pair_is_long_its_base_and_short_its_quote() -> None:
    assert legs(EURGBP) == ("EUR", "GBP")


def test_a_self_quoted_instrument_is_an_exposure_to_itself() -> None:
    assert legs(V75) == ("Volatility 75 Index", None)


def test_an_instrument_without_currencies_is_an_exposure_to_itself() -> None:
    assert legs(replace(EURUSD, name="US30", currency_base="", currency_profit="")) == (
        "US30",
        None,
    )


# --- currency_exposure ------------------------------------------------------------------------


def test_long_eurusd_is_long_eur_and_the_usd_leg_is_dropped_on_a_usd_account() -> None:
    assert exposure(Holding("EURUSD", Side.BUY, 1.0, 1.10)) == pytest.approx({"EUR": 110_000})


def test_short_eurusd_is_short_eur() -> None:
    assert exposure(Holding("EURUSD", Side.SELL, 0.5, 1.10)) == pytest.approx({"EUR": -55_000})


def test_long_eurgbp_is_long_eur_and_short_gbp_by_the_same_notional() -> None:
    result = exposure(Holding("EURGBP", Side.BUY, 1.0, 0.88))

    assert result == pytest.approx({"EUR": 110_000, "GBP": -110_000})


def test_long_eurusd_and_long_eurgbp_add_up_on_eur() -> None:
    result = exposure(
        Holding("EURUSD", Side.BUY, 1.0, 1.10), Holding("EURGBP", Side.BUY, 1.0, 0.88)
    )

    assert result == pytest.approx({"EUR": 220_000, "GBP": -110_000})


def test_long_eurusd_and_short_eurgbp_cancel_on_eur() -> None:
    result = exposure(
        Holding("EURUSD", Side.BUY, 1.0, 1.10), Holding("EURGBP", Side.SELL, 1.0, 0.88)
    )

    assert result["EUR"] == pytest.approx(0.0, abs=1e-6)
    assert result["GBP"] == pytest.approx(110_000)
    assert set(result) == {"EUR", "GBP"}


def test_short_gbpusd_and_long_eurgbp_add_up_short_on_gbp() -> None:
    result = exposure(
        Holding("GBPUSD", Side.SELL, 1.0, 1.25), Holding("EURGBP", Side.BUY, 1.0, 0.88)
    )

    assert result == pytest.approx({"GBP": -235_000, "EUR": 110_000})


def test_the_account_currency_is_never_an_exposure() -> None:
    result = exposure(
        Holding("EURUSD", Side.BUY, 1.0, 1.10),
        Holding("USDJPY", Side.BUY, 1.0, 150.0),
        Holding("GBPUSD", Side.SELL, 1.0, 1.25),
    )

    assert "USD" not in result
    assert result == pytest.approx({"EUR": 110_000, "JPY": -100_000, "GBP": -125_000})


def test_on_a_eur_account_long_eurusd_is_short_usd_only() -> None:
    eur_account_eurusd = replace(EURUSD, tick_value=1 / 1.10)  # 1 USD per point = 0.909 EUR

    result = currency_exposure(
        [Holding("EURUSD", Side.BUY, 1.0, 1.10)], lambda _: eur_account_eurusd, "EUR"
    )

    assert result == pytest.approx({"USD": -100_000})


def test_a_self_quoted_index_is_keyed_by_its_symbol_even_in_the_account_currency() -> None:
    result = exposure(Holding("Volatility 75 Index", Side.BUY, 2.0, 400_000.0))

    assert result == pytest.approx({"Volatility 75 Index": 800_000})


def test_opposite_holdings_of_a_self_quoted_index_net_out() -> None:
    result = exposure(
        Holding("Volatility 75 Index", Side.BUY, 2.0, 400_000.0),
        Holding("Volatility 75 Index", Side.SELL, 0.5, 400_000.0),
    )

    assert result == pytest.approx({"Volatility 75 Index": 600_000})


def test_no_holdings_no_exposure() -> None:
    assert exposure() == {}


holding_strategy = st.builds(
    Holding,
    symbol=st.sampled_from(sorted(SPECS)),
    side=st.sampled_from(list(Side)),
    volume=st.integers(1, 10_000).map(lambda n: n / 100),
    price=st.floats(0.5, 500_000, allow_nan=False),
)


@given(st.lists(holding_strategy, max_size=8), holding_strategy)
def test_exposure_of_holdings_together_is_the_sum_of_their_exposures(
    held: list[Holding], new: Holding
) -> None:
    together = exposure(*held, new)
    before = exposure(*held)
    alone = exposure(new)

    for key in set(together) | set(before) | set(alone):
        expected = before.get(key, 0.0) + alone.get(key, 0.0)
        assert together.get(key, 0.0) == pytest.approx(expected, rel=1e-9, abs=1e-3)


@given(holding_strategy)
def test_a_buy_and_an_equal_sell_net_to_nothing(holding: Holding) -> None:
    opposite = replace(holding, side=holding.side.opposite)

    result = exposure(holding, opposite)

    assert all(value == pytest.approx(0.0, abs=1e-6) for value in result.values())


# --- breaches ---------------------------------------------------------------------------------


def test_exposure_growing_beyond_the_limit_is_a_breach() -> None:
    assert breaches({}, {"EUR": 150.0}, 100.0) == [("EUR", 150.0)]


def test_a_short_exposure_beyond_the_limit_is_a_breach() -> None:
    assert breaches({"GBP": -50.0}, {"GBP": -150.0}, 100.0) == [("GBP", -150.0)]


def test_exposure_within_the_limit_is_no_breach() -> None:
    assert breaches({"EUR": 10.0}, {"EUR": 99.0, "GBP": -100.0}, 100.0) == []


def test_exposure_exactly_at_the_limit_is_no_breach() -> None:
    assert breaches({}, {"EUR": 100.0}, 100.0) == []


def test_a_reducing_trade_is_allowed_even_when_already_beyond_the_limit() -> None:
    assert breaches({"EUR": 300.0}, {"EUR": 200.0}, 100.0) == []


def test_an_excess_the_new_trade_does_not_change_is_not_reported() -> None:
    assert breaches({"EUR": 300.0}, {"EUR": 300.0, "JPY": 20.0}, 100.0) == []


def test_a_trade_that_grows_an_existing_excess_is_a_breach() -> None:
    assert breaches({"EUR": 300.0}, {"EUR": 301.0}, 100.0) == [("EUR", 301.0)]


def test_flipping_to_a_larger_excess_on_the_other_side_is_a_breach() -> None:
    assert breaches({"EUR": 200.0}, {"EUR": -250.0}, 100.0) == [("EUR", -250.0)]


def test_flipping_to_a_smaller_excess_on_the_other_side_is_allowed() -> None:
    assert breaches({"EUR": 200.0}, {"EUR": -150.0}, 100.0) == []


def test_breaches_are_sorted_by_currency() -> None:
    found = breaches({}, {"JPY": -500.0, "EUR": 200.0, "GBP": 300.0}, 100.0)

    assert found == [("EUR", 200.0), ("GBP", 300.0), ("JPY", -500.0)]


def test_a_second_eur_trade_breaches_where_the_first_alone_did_not() -> None:
    limit = 150_000.0
    first = Holding("EURUSD", Side.BUY, 1.0, 1.10)
    second = Holding("EURGBP", Side.BUY, 1.0, 0.88)

    assert breaches({}, exposure(first), limit) == []
    found = breaches(exposure(first), exposure(first, second), limit)

    assert [currency for currency, _ in found] == ["EUR"]
    assert found[0][1] == pytest.approx(220_000)


def test_a_trade_reducing_an_excess_is_allowed_though_still_beyond_the_limit() -> None:
    limit = 50_000.0
    held = [Holding("EURUSD", Side.BUY, 1.0, 1.10)]
    hedge = Holding("EURUSD", Side.SELL, 0.3, 1.10)

    assert exposure(*held, hedge)["EUR"] == pytest.approx(77_000)  # still beyond 50,000
    assert breaches(exposure(*held), exposure(*held, hedge), limit) == []


def test_a_eur_hedge_through_eurgbp_is_refused_for_the_gbp_it_adds() -> None:
    limit = 50_000.0
    held = [Holding("EURUSD", Side.BUY, 1.0, 1.10)]
    hedge = Holding("EURGBP", Side.SELL, 0.5, 0.88)

    found = breaches(exposure(*held), exposure(*held, hedge), limit)

    assert [currency for currency, _ in found] == ["GBP"]
    assert found[0][1] == pytest.approx(55_000)
