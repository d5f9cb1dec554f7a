"""MetaTrader 5's result structures, built and used like the real module's.

MetaTrader's structures (``Tick``, ``AccountInfo``, ``TradePosition``...) are C struct
sequences, like ``os.stat_result``: tuples with named fields. Callers index them by position
(``rates[0][4]``), unpack them, call ``_asdict()`` or build DataFrames from them, so the field
order is part of the contract, not a detail. The two numpy dtypes are those of the structured
arrays ``copy_rates_*`` and ``copy_ticks_*`` return.

Each structure here is a named tuple (``_fields``, ``_asdict()``, ``_replace()``, attribute
access, equality with plain tuples, ``Tick(time=..., ...)`` repr, pickling) whose constructor is
a struct sequence's (:class:`~forexbot.connectors.struct_sequence.StructSequence`):

* ``Tick(sequence)`` or ``Tick(sequence, dict)`` (also ``sequence=``/``dict=``), as in the
  real module: ``Tick(row)``, ``TradePosition(tuple(p))``. The sequence must have exactly one
  item per field, else TypeError. ``dict`` must be a dict or None; since every field comes from
  the sequence, a non-empty dict is a TypeError (as in Python 3.13's struct sequences, where
  earlier versions ignored it silently).
* ``Tick(time=..., bid=..., ...)``: one keyword per field (TradeRequest's fields default to 0
  and ""). The real structures do not take this form; the simulator builds its structures so
  and existing callers keep working. It cannot be confused with the first form: no structure
  has a field named ``sequence`` or ``dict``, and mixing a sequence with field keywords is a
  TypeError.
* ``Tick(t, bid, ask, ...)``: one positional argument per field, the named-tuple form, kept
  for existing callers. Every structure has at least four fields, so a call with that many
  positional arguments cannot be the one- or two-argument sequence form.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from forexbot.connectors.struct_sequence import StructSequence

RATES_DTYPE = np.dtype(
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
TICKS_DTYPE = np.dtype(
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


class _AccountInfo(NamedTuple):
    login: int
    trade_mode: int
    leverage: int
    limit_orders: int
    margin_so_mode: int
    trade_allowed: bool
    trade_expert: bool
    margin_mode: int
    currency_digits: int
    fifo_close: bool
    balance: float
    credit: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    margin_so_call: float
    margin_so_so: float
    margin_initial: float
    margin_maintenance: float
    assets: float
    liabilities: float
    commission_blocked: float
    name: str
    server: str
    currency: str
    company: str


class AccountInfo(StructSequence, _AccountInfo):
    __slots__ = ()


class _TerminalInfo(NamedTuple):
    community_account: bool
    community_connection: bool
    connected: bool
    dlls_allowed: bool
    trade_allowed: bool
    tradeapi_disabled: bool
    email_enabled: bool
    ftp_enabled: bool
    notifications_enabled: bool
    mqid: bool
    build: int
    maxbars: int
    codepage: int
    ping_last: int
    community_balance: float
    retransmission: float
    company: str
    name: str
    language: str
    path: str
    data_path: str
    commondata_path: str


class TerminalInfo(StructSequence, _TerminalInfo):
    __slots__ = ()


class _SymbolInfo(NamedTuple):
    custom: bool
    chart_mode: int
    select: bool
    visible: bool
    session_deals: int
    session_buy_orders: int
    session_sell_orders: int
    volume: int
    volumehigh: int
    volumelow: int
    time: int
    digits: int
    spread: int
    spread_float: bool
    ticks_bookdepth: int
    trade_calc_mode: int
    trade_mode: int
    start_time: int
    expiration_time: int
    trade_stops_level: int
    trade_freeze_level: int
    trade_exemode: int
    swap_mode: int
    swap_rollover3days: int
    margin_hedged_use_leg: bool
    expiration_mode: int
    filling_mode: int
    order_mode: int
    order_gtc_mode: int
    option_mode: int
    option_right: int
    bid: float
    bidhigh: float
    bidlow: float
    ask: float
    askhigh: float
    asklow: float
    last: float
    lasthigh: float
    lastlow: float
    volume_real: float
    volumehigh_real: float
    volumelow_real: float
    option_strike: float
    point: float
    trade_tick_value: float
    trade_tick_value_profit: float
    trade_tick_value_loss: float
    trade_tick_size: float
    trade_contract_size: float
    trade_accrued_interest: float
    trade_face_value: float
    trade_liquidity_rate: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    swap_long: float
    swap_short: float
    margin_initial: float
    margin_maintenance: float
    session_volume: float
    session_turnover: float
    session_interest: float
    session_buy_orders_volume: float
    session_sell_orders_volume: float
    session_open: float
    session_close: float
    session_aw: float
    session_price_settlement: float
    session_price_limit_min: float
    session_price_limit_max: float
    margin_hedged: float
    price_change: float
    price_volatility: float
    price_theoretical: float
    price_greeks_delta: float
    price_greeks_theta: float
    price_greeks_gamma: float
    price_greeks_vega: float
    price_greeks_rho: float
    price_greeks_omega: float
    price_sensitivity: float
    basis: str
    category: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    bank: str
    description: str
    exchange: str
    formula: str
    isin: str
    name: str
    page: str
    path: str


class SymbolInfo(StructSequence, _SymbolInfo):
    __slots__ = ()


class _Tick(NamedTuple):
    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


class Tick(StructSequence, _Tick):
    __slots__ = ()


class _TradePosition(NamedTuple):
    ticket: int
    time: int
    time_msc: int
    time_update: int
    time_update_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    swap: float
    profit: float
    symbol: str
    comment: str
    external_id: str


class TradePosition(StructSequence, _TradePosition):
    __slots__ = ()


class _TradeOrder(NamedTuple):
    ticket: int
    time_setup: int
    time_setup_msc: int
    time_done: int
    time_done_msc: int
    time_expiration: int
    type: int
    type_time: int
    type_filling: int
    state: int
    magic: int
    position_id: int
    position_by_id: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    price_stoplimit: float
    symbol: str
    comment: str
    external_id: str


class TradeOrder(StructSequence, _TradeOrder):
    __slots__ = ()


class _TradeDeal(NamedTuple):
    ticket: int
    order: int
    time: int
    time_msc: int
    type: int
    entry: int
    magic: int
    position_id: int
    reason: int
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    fee: float
    symbol: str
    comment: str
    external_id: str


class TradeDeal(StructSequence, _TradeDeal):
    __slots__ = ()


class _TradeRequest(NamedTuple):
    action: int = 0
    magic: int = 0
    order: int = 0
    symbol: str = ""
    volume: float = 0.0
    price: float = 0.0
    stoplimit: float = 0.0
    sl: float = 0.0
    tp: float = 0.0
    deviation: int = 0
    type: int = 0
    type_filling: int = 0
    type_time: int = 0
    expiration: int = 0
    comment: str = ""
    position: int = 0
    position_by: int = 0


class TradeRequest(StructSequence, _TradeRequest):
    __slots__ = ()


class _OrderSendResult(NamedTuple):
    retcode: int
    deal: int
    order: int
    volume: float
    price: float
    bid: float
    ask: float
    comment: str
    request_id: int
    retcode_external: int
    request: TradeRequest


class OrderSendResult(StructSequence, _OrderSendResult):
    __slots__ = ()


class _OrderCheckResult(NamedTuple):
    retcode: int
    balance: float
    equity: float
    profit: float
    margin: float
    margin_free: float
    margin_level: float
    comment: str
    request: TradeRequest


class OrderCheckResult(StructSequence, _OrderCheckResult):
    __slots__ = ()


class _BookInfo(NamedTuple):
    type: int
    price: float
    volume: int
    volume_dbl: float


class BookInfo(StructSequence, _BookInfo):
    __slots__ = ()
