"""Building MetaTrader's info tuples (account, terminal, symbol, tick) from simulator state."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import (
    ACCOUNT_STOPOUT_MODE_PERCENT,
    ACCOUNT_TRADE_MODE_DEMO,
    SYMBOL_CHART_MODE_BID,
    SYMBOL_ORDERS_GTC,
)

from .account import AccountState
from .money import CURRENCY_DIGITS, Money
from .structures import AccountInfo, SymbolInfo, TerminalInfo, Tick
from .symbols import SymbolSpec

BUILD = 4755
BUILD_DATE = "24 Jan 2025"
MAXBARS = 100_000


def account_info(state: AccountState, profit: float, margin: float) -> AccountInfo:
    equity = round(state.balance + state.credit + profit, CURRENCY_DIGITS)
    return AccountInfo(
        login=state.login,
        trade_mode=ACCOUNT_TRADE_MODE_DEMO,
        leverage=state.leverage,
        limit_orders=200,
        margin_so_mode=ACCOUNT_STOPOUT_MODE_PERCENT,
        trade_allowed=True,
        trade_expert=True,
        margin_mode=state.margin_mode,
        currency_digits=CURRENCY_DIGITS,
        fifo_close=False,
        balance=state.balance,
        credit=state.credit,
        profit=profit,
        equity=equity,
        margin=margin,
        margin_free=round(equity - margin, CURRENCY_DIGITS),
        margin_level=round(equity / margin * 100, 2) if margin else 0.0,
        margin_so_call=state.margin_call,
        margin_so_so=state.stop_out,
        margin_initial=0.0,
        margin_maintenance=0.0,
        assets=0.0,
        liabilities=0.0,
        commission_blocked=0.0,
        name=state.name,
        server=state.server,
        currency=state.currency,
        company=state.company,
    )


def terminal_info(data_path: str) -> TerminalInfo:
    return TerminalInfo(
        community_account=False,
        community_connection=False,
        connected=True,
        dlls_allowed=False,
        trade_allowed=True,
        tradeapi_disabled=False,
        email_enabled=False,
        ftp_enabled=False,
        notifications_enabled=False,
        mqid=False,
        build=BUILD,
        maxbars=MAXBARS,
        codepage=0,
        ping_last=0,
        community_balance=0.0,
        retransmission=0.0,
        company="Forexbot Simulated Broker",
        name="Forexbot Simulated Terminal",
        language="English",
        path=data_path,
        data_path=data_path,
        commondata_path=data_path,
    )


def tick(row: NDArray[np.void]) -> Tick:
    """A one-row tick array as MetaTrader's Tick tuple."""
    return Tick(
        time=int(row["time"][0]),
        bid=float(row["bid"][0]),
        ask=float(row["ask"][0]),
        last=float(row["last"][0]),
        volume=int(row["volume"][0]),
        time_msc=int(row["time_msc"][0]),
        flags=int(row["flags"][0]),
        volume_real=float(row["volume_real"][0]),
    )


def symbol_info(
    spec: SymbolSpec,
    *,
    selected: bool,
    last: Tick | None,
    today: NDArray[np.void],
    previous: NDArray[np.void],
    money: Money,
) -> SymbolInfo:
    """The symbol's contract, its current quote and today's session figures."""
    bid = last.bid if last else 0.0
    ask = last.ask if last else 0.0
    spread = round((ask - bid) / spec.point) if last else 0
    has_today = len(today) > 0
    day_high = float(today["high"][0]) if has_today else bid
    day_low = float(today["low"][0]) if has_today else bid
    day_spread = (float(today["spread"][0]) if has_today else spread) * spec.point
    prev_close = float(previous["close"][0]) if len(previous) else 0.0
    change = round((bid - prev_close) / prev_close * 100, 2) if prev_close and bid else 0.0
    tick_value = money.tick_value(spec)
    return SymbolInfo(
        custom=False,
        chart_mode=SYMBOL_CHART_MODE_BID,
        select=selected,
        visible=selected,
        session_deals=0,
        session_buy_orders=0,
        session_sell_orders=0,
        volume=0,
        volumehigh=0,
        volumelow=0,
        time=last.time if last else 0,
        digits=spec.digits,
        spread=int(spread),
        spread_float=True,
        ticks_bookdepth=0,
        trade_calc_mode=spec.calc_mode,
        trade_mode=spec.trade_mode,
        start_time=0,
        expiration_time=0,
        trade_stops_level=spec.stops_level,
        trade_freeze_level=spec.freeze_level,
        trade_exemode=spec.exemode,
        swap_mode=spec.swap_mode,
        swap_rollover3days=spec.swap_rollover3days,
        margin_hedged_use_leg=False,
        expiration_mode=spec.expiration_mode,
        filling_mode=spec.filling_mode,
        order_mode=spec.order_mode,
        order_gtc_mode=SYMBOL_ORDERS_GTC,
        option_mode=0,
        option_right=0,
        bid=bid,
        bidhigh=day_high,
        bidlow=day_low,
        ask=ask,
        askhigh=round(day_high + day_spread, spec.digits),
        asklow=round(day_low + day_spread, spec.digits),
        last=0.0,
        lasthigh=0.0,
        lastlow=0.0,
        volume_real=0.0,
        volumehigh_real=0.0,
        volumelow_real=0.0,
        option_strike=0.0,
        point=spec.point,
        trade_tick_value=tick_value,
        trade_tick_value_profit=tick_value,
        trade_tick_value_loss=money.tick_value(spec, loss=True),
        trade_tick_size=spec.tick_size,
        trade_contract_size=spec.contract_size,
        trade_accrued_interest=0.0,
        trade_face_value=0.0,
        trade_liquidity_rate=0.0,
        volume_min=spec.volume_min,
        volume_max=spec.volume_max,
        volume_step=spec.volume_step,
        volume_limit=spec.volume_limit,
        swap_long=spec.swap_long,
        swap_short=spec.swap_short,
        margin_initial=0.0,
        margin_maintenance=0.0,
        session_volume=0.0,
        session_turnover=0.0,
        session_interest=0.0,
        session_buy_orders_volume=0.0,
        session_sell_orders_volume=0.0,
        session_open=float(today["open"][0]) if has_today else 0.0,
        session_close=prev_close,
        session_aw=0.0,
        session_price_settlement=0.0,
        session_price_limit_min=0.0,
        session_price_limit_max=0.0,
        margin_hedged=spec.margin_hedged,
        price_change=change,
        price_volatility=0.0,
        price_theoretical=0.0,
        price_greeks_delta=0.0,
        price_greeks_theta=0.0,
        price_greeks_gamma=0.0,
        price_greeks_vega=0.0,
        price_greeks_rho=0.0,
        price_greeks_omega=0.0,
        price_sensitivity=0.0,
        basis="",
        category="",
        currency_base=spec.currency_base,
        currency_profit=spec.currency_profit,
        currency_margin=spec.currency_margin,
        bank="",
        description=spec.description,
        exchange="",
        formula="",
        isin="",
        name=spec.name,
        page="",
        path=spec.path,
    )
