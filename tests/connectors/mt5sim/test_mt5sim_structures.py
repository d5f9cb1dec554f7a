"""Named tuples keep MetaTrader's field names and order; arrays use MetaTrader's dtypes."""

from __future__ import annotations

import numpy as np

import forexbot.connectors.mt5sim as mt5


def test_rates_dtype_is_metatraders() -> None:
    assert (
        np.dtype(
            [
                ("time", "<i8"),
                ("open", "<f8"),
                ("high", "<f8"),
                ("low", "<f8"),
                ("close", "<f8"),
                ("tick_volume", "<u8"),
                ("spread", "<i4"),
                ("real_volume", "<u8"),
            ]
        )
        == mt5.RATES_DTYPE
    )


def test_ticks_dtype_is_metatraders() -> None:
    assert (
        np.dtype(
            [
                ("time", "<i8"),
                ("bid", "<f8"),
                ("ask", "<f8"),
                ("last", "<f8"),
                ("volume", "<u8"),
                ("time_msc", "<i8"),
                ("flags", "<u4"),
                ("volume_real", "<f8"),
            ]
        )
        == mt5.TICKS_DTYPE
    )


def test_tick_fields_in_order() -> None:
    assert mt5.Tick._fields == (
        "time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real",
    )  # fmt: skip


def test_position_fields_in_order() -> None:
    assert mt5.TradePosition._fields == (
        "ticket", "time", "time_msc", "time_update", "time_update_msc", "type", "magic",
        "identifier", "reason", "volume", "price_open", "sl", "tp", "price_current", "swap",
        "profit", "symbol", "comment", "external_id",
    )  # fmt: skip


def test_order_fields_in_order() -> None:
    assert mt5.TradeOrder._fields == (
        "ticket", "time_setup", "time_setup_msc", "time_done", "time_done_msc",
        "time_expiration", "type", "type_time", "type_filling", "state", "magic", "position_id",
        "position_by_id", "reason", "volume_initial", "volume_current", "price_open", "sl", "tp",
        "price_current", "price_stoplimit", "symbol", "comment", "external_id",
    )  # fmt: skip


def test_deal_fields_in_order() -> None:
    assert mt5.TradeDeal._fields == (
        "ticket", "order", "time", "time_msc", "type", "entry", "magic", "position_id",
        "reason", "volume", "price", "commission", "swap", "profit", "fee", "symbol", "comment",
        "external_id",
    )  # fmt: skip


def test_request_and_result_fields_in_order() -> None:
    assert mt5.TradeRequest._fields == (
        "action", "magic", "order", "symbol", "volume", "price", "stoplimit", "sl", "tp",
        "deviation", "type", "type_filling", "type_time", "expiration", "comment", "position",
        "position_by",
    )  # fmt: skip
    assert mt5.OrderSendResult._fields == (
        "retcode", "deal", "order", "volume", "price", "bid", "ask", "comment", "request_id",
        "retcode_external", "request",
    )  # fmt: skip
    assert mt5.OrderCheckResult._fields == (
        "retcode", "balance", "equity", "profit", "margin", "margin_free", "margin_level",
        "comment", "request",
    )  # fmt: skip
    assert mt5.BookInfo._fields == ("type", "price", "volume", "volume_dbl")


def test_account_info_fields_in_order() -> None:
    assert mt5.AccountInfo._fields == (
        "login", "trade_mode", "leverage", "limit_orders", "margin_so_mode", "trade_allowed",
        "trade_expert", "margin_mode", "currency_digits", "fifo_close", "balance", "credit",
        "profit", "equity", "margin", "margin_free", "margin_level", "margin_so_call",
        "margin_so_so", "margin_initial", "margin_maintenance", "assets", "liabilities",
        "commission_blocked", "name", "server", "currency", "company",
    )  # fmt: skip


def test_terminal_info_fields_in_order() -> None:
    assert mt5.TerminalInfo._fields == (
        "community_account", "community_connection", "connected", "dlls_allowed",
        "trade_allowed", "tradeapi_disabled", "email_enabled", "ftp_enabled",
        "notifications_enabled", "mqid", "build", "maxbars", "codepage", "ping_last",
        "community_balance", "retransmission", "company", "name", "language", "path",
        "data_path", "commondata_path",
    )  # fmt: skip


def test_symbol_info_has_96_fields_in_metatraders_order() -> None:
    fields = mt5.SymbolInfo._fields
    assert len(fields) == 96
    assert fields[:12] == (
        "custom", "chart_mode", "select", "visible", "session_deals", "session_buy_orders",
        "session_sell_orders", "volume", "volumehigh", "volumelow", "time", "digits",
    )  # fmt: skip
    assert fields[26] == "filling_mode"
    assert fields[31:37] == ("bid", "bidhigh", "bidlow", "ask", "askhigh", "asklow")
    assert fields[44:50] == (
        "point", "trade_tick_value", "trade_tick_value_profit", "trade_tick_value_loss",
        "trade_tick_size", "trade_contract_size",
    )  # fmt: skip
    assert fields[-13:] == (
        "basis", "category", "currency_base", "currency_profit", "currency_margin", "bank",
        "description", "exchange", "formula", "isin", "name", "page", "path",
    )  # fmt: skip
