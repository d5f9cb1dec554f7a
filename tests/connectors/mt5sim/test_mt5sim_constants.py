"""The module's constants carry MetaTrader5's numeric values (reference section 3)."""

from __future__ import annotations

import pytest

import forexbot.connectors.mt5sim as mt5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRADE_ACTION_DEAL", 1),
        ("TRADE_ACTION_PENDING", 5),
        ("TRADE_ACTION_SLTP", 6),
        ("TRADE_ACTION_MODIFY", 7),
        ("TRADE_ACTION_REMOVE", 8),
        ("TRADE_ACTION_CLOSE_BY", 10),
        ("ORDER_TYPE_BUY", 0),
        ("ORDER_TYPE_SELL", 1),
        ("ORDER_TYPE_BUY_LIMIT", 2),
        ("ORDER_TYPE_SELL_LIMIT", 3),
        ("ORDER_TYPE_BUY_STOP", 4),
        ("ORDER_TYPE_SELL_STOP", 5),
        ("ORDER_TYPE_BUY_STOP_LIMIT", 6),
        ("ORDER_TYPE_SELL_STOP_LIMIT", 7),
        ("ORDER_TYPE_CLOSE_BY", 8),
        ("ORDER_FILLING_FOK", 0),
        ("ORDER_FILLING_IOC", 1),
        ("ORDER_FILLING_RETURN", 2),
        ("ORDER_TIME_GTC", 0),
        ("ORDER_TIME_SPECIFIED_DAY", 3),
        ("ORDER_STATE_PLACED", 1),
        ("ORDER_STATE_FILLED", 4),
        ("ORDER_STATE_REQUEST_CANCEL", 9),
        ("ORDER_REASON_EXPERT", 3),
        ("ORDER_REASON_SO", 6),
        ("DEAL_TYPE_BALANCE", 2),
        ("DEAL_TYPE_SELL_CANCELED", 14),
        ("DEAL_DIVIDEND", 15),
        ("DEAL_DIVIDEND_FRANKED", 16),
        ("DEAL_TAX", 17),
        ("DEAL_ENTRY_IN", 0),
        ("DEAL_ENTRY_OUT", 1),
        ("DEAL_ENTRY_INOUT", 2),
        ("DEAL_ENTRY_OUT_BY", 3),
        ("DEAL_REASON_SL", 4),
        ("DEAL_REASON_TP", 5),
        ("DEAL_REASON_SPLIT", 9),
        ("POSITION_TYPE_SELL", 1),
        ("POSITION_REASON_EXPERT", 3),
        ("SYMBOL_TRADE_MODE_FULL", 4),
        ("SYMBOL_TRADE_EXECUTION_MARKET", 2),
        ("SYMBOL_CALC_MODE_CFDLEVERAGE", 4),
        ("SYMBOL_CALC_MODE_EXCH_STOCKS", 32),
        ("SYMBOL_CALC_MODE_SERV_COLLATERAL", 64),
        ("ACCOUNT_MARGIN_MODE_RETAIL_HEDGING", 2),
        ("ACCOUNT_TRADE_MODE_REAL", 2),
        ("ACCOUNT_STOPOUT_MODE_MONEY", 1),
        ("COPY_TICKS_ALL", -1),
        ("COPY_TICKS_INFO", 1),
        ("COPY_TICKS_TRADE", 2),
        ("TICK_FLAG_BID", 2),
        ("TICK_FLAG_ASK", 4),
        ("TICK_FLAG_SELL", 64),
        ("BOOK_TYPE_BUY_MARKET", 4),
        ("RES_S_OK", 1),
        ("RES_E_INVALID_PARAMS", -2),
        ("RES_E_NOT_FOUND", -4),
        ("RES_E_INTERNAL_FAIL_CONNECT", -10004),
        ("RES_E_INTERNAL_FAIL_TIMEOUT", -10005),
    ],
)
def test_constant_has_metatrader_value(name: str, value: int) -> None:
    assert getattr(mt5, name) == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMEFRAME_M1", 1),
        ("TIMEFRAME_M30", 30),
        ("TIMEFRAME_H1", 16385),
        ("TIMEFRAME_H4", 16388),
        ("TIMEFRAME_H12", 16396),
        ("TIMEFRAME_D1", 16408),
        ("TIMEFRAME_W1", 32769),
        ("TIMEFRAME_MN1", 49153),
    ],
)
def test_timeframes_encode_hours_weeks_and_months_in_high_bits(name: str, value: int) -> None:
    assert getattr(mt5, name) == value


def test_trade_return_codes_match_the_trade_server() -> None:
    expected = {
        "REQUOTE": 10004,
        "PLACED": 10008,
        "DONE": 10009,
        "INVALID": 10013,
        "INVALID_VOLUME": 10014,
        "INVALID_PRICE": 10015,
        "INVALID_STOPS": 10016,
        "MARKET_CLOSED": 10018,
        "NO_MONEY": 10019,
        "PRICE_OFF": 10021,
        "FROZEN": 10029,
        "INVALID_FILL": 10030,
        "POSITION_CLOSED": 10036,
        "INVALID_CLOSE_VOLUME": 10038,
        "HEDGE_PROHIBITED": 10046,
    }
    assert {k: getattr(mt5, f"TRADE_RETCODE_{k}") for k in expected} == expected


def test_symbol_filling_flags_are_not_exported() -> None:
    assert not [name for name in dir(mt5) if name.startswith("SYMBOL_FILLING_")]
