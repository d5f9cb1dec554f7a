"""Symbol variants: a broker's suffixed names (EURUSD.pro, EURUSDm) for the same market."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import numpy as np
import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.errors import SimulatorError
from forexbot.connectors.mt5sim.replay import ReplayBars, ReplayDataError, ReplayFeed
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

SUFFIXES = (".pro", "m")
BASE_NAMES = [spec.name for spec in Catalogue().all()]
NOW = int(THURSDAY) + 7_200  # server seconds (UTC+2 in March)


@pytest.fixture
def variants(clock: ManualClock) -> Iterator[SimulatedTerminal]:
    term = SimulatedTerminal(seed=SEED, clock=clock, symbol_variants=SUFFIXES)
    assert term.initialize()
    yield term
    term.shutdown()


@pytest.fixture(scope="module")
def listing() -> Iterator[SimulatedTerminal]:
    """One terminal for the tests that only read (quoting every symbol costs ~1 s)."""
    term = SimulatedTerminal(seed=SEED, clock=ManualClock(THURSDAY), symbol_variants=SUFFIXES)
    assert term.initialize()
    yield term
    term.shutdown()


def names(terminal: SimulatedTerminal, group: str | None = None) -> list[str]:
    return [info.name for info in terminal.symbols_get(group) or ()]


def test_no_variants_by_default(terminal: SimulatedTerminal) -> None:
    assert terminal.symbols_total() == 39
    assert names(terminal, "*.pro,*m") == []
    assert Catalogue().has_variants is False


def test_every_symbol_is_listed_again_under_each_suffix_in_order(
    listing: SimulatedTerminal,
) -> None:
    expected = BASE_NAMES + [n + ".pro" for n in BASE_NAMES] + [n + "m" for n in BASE_NAMES]
    assert names(listing) == expected
    assert listing.symbols_total() == 117


def test_a_variant_has_its_base_contract_spec_outside_market_watch(
    variants: SimulatedTerminal,
) -> None:
    base = variants.symbol_info("EURUSD")
    variant = variants.symbol_info("EURUSD.pro")
    assert base is not None
    assert variant is not None
    differing = {k: v for k, v in variant._asdict().items() if base._asdict()[k] != v}
    assert differing == {
        "name": "EURUSD.pro",
        "path": "Forex\\Majors\\EURUSD.pro",
        "select": False,
        "visible": False,
    }


@pytest.mark.parametrize("symbol", ["EURUSD", "EURJPY", "XAUUSD", "Volatility 75 Index"])
def test_a_variant_quotes_exactly_its_base_ticks(variants: SimulatedTerminal, symbol: str) -> None:
    base = variants.copy_ticks_range(symbol, NOW - 3_600, NOW, mt5.COPY_TICKS_ALL)
    for suffix in SUFFIXES:
        variant = variants.copy_ticks_range(symbol + suffix, NOW - 3_600, NOW, mt5.COPY_TICKS_ALL)
        assert base is not None
        assert variant is not None
        assert len(base) > 100
        assert np.array_equal(variant, base)


@pytest.mark.parametrize("timeframe", [mt5.TIMEFRAME_M1, mt5.TIMEFRAME_H1, mt5.TIMEFRAME_D1])
def test_a_variant_has_exactly_its_base_bars_up_to_the_forming_one(
    variants: SimulatedTerminal, clock: ManualClock, timeframe: int
) -> None:
    clock.advance(37.5)  # inside a minute: the last bar is still forming
    base = variants.copy_rates_from_pos("GBPJPY", timeframe, 0, 20)
    variant = variants.copy_rates_from_pos("GBPJPYm", timeframe, 0, 20)
    assert base is not None
    assert variant is not None
    assert len(base) == 20
    assert np.array_equal(variant, base)


def test_a_variant_trades_and_earns_what_its_base_earns(
    variants: SimulatedTerminal, clock: ManualClock
) -> None:
    assert variants.symbol_select("EURJPY", True)
    assert variants.symbol_select("EURJPY.pro", True)
    opened = [
        variants.order_send(market_request(symbol, mt5.ORDER_TYPE_BUY, 0.5))
        for symbol in ("EURJPY", "EURJPY.pro")
    ]
    assert [r.retcode for r in opened] == [10009, 10009]
    assert opened[0].price == opened[1].price
    clock.advance(3 * 3_600)
    base, variant = (
        variants.positions_get(symbol="EURJPY"),
        variants.positions_get(symbol="EURJPY.pro"),
    )
    assert base is not None
    assert variant is not None
    assert variant[0].profit == base[0].profit != 0.0
    assert variant[0].price_current == base[0].price_current


def test_a_variant_can_be_replayed_only_through_its_market() -> None:
    with pytest.raises(ReplayDataError, match=r"'EURUSD.pro': it quotes EURUSD's prices"):
        ReplayFeed.from_files(
            {"EURUSD.pro": ReplayBars(np.zeros(0, dtype=mt5.RATES_DTYPE), 60)},
            catalogue=Catalogue(variants=(".pro",)),
        )


def test_a_variant_quotes_its_base_replayed_bars(clock: ManualClock) -> None:
    source = SimulatedTerminal(seed=SEED, clock=clock)
    assert source.initialize()
    bars = source.copy_rates_range("GBPUSD", mt5.TIMEFRAME_M1, NOW - 2 * 86_400, NOW - 86_400)
    assert bars is not None
    assert len(bars) > 1_000
    replayed = SimulatedTerminal(
        seed=SEED, clock=clock, replay={"EURUSD": ReplayBars(bars, 60)}, symbol_variants=("m",)
    )
    assert replayed.initialize()
    got = replayed.copy_rates_range("EURUSDm", mt5.TIMEFRAME_M1, NOW - 2 * 86_400, NOW - 86_400)
    assert got is not None
    assert np.array_equal(got, bars)


def test_group_filters_list_variants_like_any_symbol(listing: SimulatedTerminal) -> None:
    assert names(listing, "*.pro") == [n + ".pro" for n in BASE_NAMES]
    assert names(listing, "EURUSD*") == ["EURUSD", "EURUSD.pro", "EURUSDm"]
    assert names(listing, "*,!*.pro,!*m") == BASE_NAMES


def test_conversions_and_crosses_keep_using_the_base_symbols() -> None:
    catalogue = Catalogue(variants=SUFFIXES)
    eurusd, usdjpy = catalogue.pair("EUR", "USD"), catalogue.pair("USD", "JPY")
    assert eurusd is not None
    assert usdjpy is not None
    assert (eurusd.name, usdjpy.name) == ("EURUSD", "USDJPY")
    assert catalogue.market("EURJPYm") == "EURJPY"
    assert catalogue.market("EURJPY") == "EURJPY"


@pytest.mark.parametrize(
    ("suffixes", "message"),
    [
        (("",), "non-empty string"),
        ((" pro",), r"holds \[' '\]"),
        (("a,b",), r"holds \[','\]"),
        (("*",), "group wildcards"),
        (("m", ".pro", "m"), "'m' is given twice"),
        (".pro", "not the string '.pro'"),
    ],
)
def test_invalid_suffixes_are_refused(suffixes: tuple[str, ...] | str, message: str) -> None:
    with pytest.raises(SimulatorError, match=message):
        SimulatedTerminal(seed=SEED, clock=ManualClock(THURSDAY), symbol_variants=suffixes)


def test_an_account_trading_a_variant_needs_the_suffix_when_reopened(
    tmp_path: pathlib.Path, clock: ManualClock
) -> None:
    state = tmp_path / "account.json"
    first = SimulatedTerminal(seed=SEED, clock=clock, state_path=state, symbol_variants=("m",))
    assert first.initialize()
    assert first.symbol_select("EURUSDm", True)
    result = first.order_send(market_request("EURUSDm", mt5.ORDER_TYPE_SELL, 0.1))
    assert result is not None
    assert result.retcode == 10009
    first.shutdown()
    with pytest.raises(SimulatorError, match="positions or orders on EURUSDm"):
        SimulatedTerminal(seed=SEED, clock=clock, state_path=state)
    reopened = SimulatedTerminal(seed=SEED, clock=clock, state_path=state, symbol_variants=("m",))
    assert reopened.initialize()
    assert [p.symbol for p in reopened.positions_get() or ()] == ["EURUSDm"]
