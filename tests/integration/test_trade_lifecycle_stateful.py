"""The trade lifecycle under random sequences of events: a Hypothesis state machine.

Each example builds the engine as the daemon does (``trading_rig``: simulated terminal on a
manual clock, connector, risk, execution and position managers, the real PostgreSQL, emptied
first) and plays a random sequence of what happens to trades in real life:

* a person opens a manual trade (EURUSD or GBPUSD, buy or sell, SL/TP a few points away, a
  volume or risk sizing), sometimes with the terminal's answer lost although the order
  executed;
* the bot closes part of a trade, or all of it, sometimes with the answer lost too;
* someone closes part or all of a position by hand in the terminal (magic 0);
* the bot moves a stop-loss;
* the market moves for a while, so stop-losses and take-profits hit at the terminal (and swap
  is charged at the rollover);
* someone asks to close or modify a trade that is already finished: refused, nothing changes.

After every step the position manager syncs with the terminal and the event bus settles, then
the invariants are checked against what the terminal itself reports:

* every trade is in exactly one state, the one its history ends in, reached by legal moves
  only, and no trade is left half-way (intent, submitted, closing) once synced;
* volume is conserved: ``0 <= closed_volume <= volume``, a closed trade closed all of it, an
  open trade's position holds exactly ``volume - closed_volume``, and ``closed_volume`` is the
  sum of the position's exit deals;
* the bot's positions at the terminal are exactly the positions of the open trades (none lost,
  none held twice, none adopted);
* a closed trade's profit is the sum of its exit deals' profits, to the cent (its swap and
  commission the sums over all its deals);
* no order was sent twice: one entry deal with the bot's magic per trade that ever opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import MAGIC, OPEN_LIMITS, TradingRig, trading_rig

from forexbot.connectors import mt5_constants as mt5c
from forexbot.database.engine import create_engine
from forexbot.database.tables import metadata, trade_transitions, trades
from forexbot.database.trades import trade_from_row
from forexbot.domain.lifecycle import can_move
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import ManualOrder, Side, TradeStatus
from forexbot.errors import InvalidInputError, RiskRejection, StateConflictError

pytestmark = pytest.mark.db

T = TypeVar("T")

SYMBOLS = ("EURUSD", "GBPUSD")
VOLUME_STEP = Decimal("0.01")  # both symbols: min 0.01, step 0.01
ALL_TIME = (datetime(2000, 1, 1), datetime(2100, 1, 1))
TRANSIENT = (TradeStatus.INTENT, TradeStatus.SUBMITTED, TradeStatus.CLOSING)

sides = st.sampled_from([Side.BUY, Side.SELL])
symbols = st.sampled_from(SYMBOLS)
sl_points = st.sampled_from([40, 80, 150, 300, 1000])
tp_points = st.sampled_from([0, 60, 150, 400])
volumes = st.sampled_from([None, 0.01, 0.03, 0.1, 0.17, 0.5])
fractions = st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9])
picks = st.integers(min_value=0, max_value=9)  # which open trade


def _volume(value: float) -> Decimal:
    return Decimal(repr(round(value, 8)))


def _money(value: float) -> Decimal:
    return Decimal(repr(round(value, 2)))


def part_of(open_volume: Decimal, fraction: float) -> Decimal | None:
    """``fraction`` of ``open_volume`` rounded to the volume step, if that leaves volume open."""
    volume = (open_volume * Decimal(repr(fraction)) / VOLUME_STEP).to_integral_value() * VOLUME_STEP
    return volume if 0 < volume < open_volume else None


Move = tuple[TradeStatus | None, TradeStatus]  # (from_status, to_status); None: created


@dataclass(frozen=True)
class Snapshot:
    """The database and the terminal, read at the same clock time after a sync."""

    trades: list[TradeRecord]
    history: dict[int, list[Move]]  # each trade's transitions, oldest first
    positions: list[Any]  # the terminal's positions with the bot's magic
    deals: list[Any]  # every deal of the account
    deals_of: dict[int, list[Any]]  # history_deals_get(position=ticket) of each trade's ticket


def has_open_trades(machine: TradeLifecycle) -> bool:
    return any(t.status is TradeStatus.OPEN for t in machine.snapshot.trades)


class TradeLifecycle(RuleBasedStateMachine):
    """See the module docstring."""

    database_url: ClassVar[str] = ""

    opened = Bundle("opened")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db: AsyncEngine = create_engine(self.database_url, pool_size=2)
        self.rig_context: contextlib.AbstractAsyncContextManager[TradingRig] | None = None
        try:
            self.run(self._empty_database())
            context = trading_rig(self.db, symbols=SYMBOLS, risk=OPEN_LIMITS)
            self.rig: TradingRig = self.run(context.__aenter__())
            self.rig_context = context
            self.snapshot = self._sync()
        except BaseException:
            self.teardown()  # Hypothesis tears down only a machine that was built
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(step)

    async def _empty_database(self) -> None:
        tables = ", ".join(table.name for table in metadata.sorted_tables)
        async with self.db.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))

    def teardown(self) -> None:
        try:
            if self.rig_context is not None:
                self.run(self.rig_context.__aexit__(None, None, None))
            self.run(self.db.dispose())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def _sync(self) -> Snapshot:
        """Reconcile, let every subscriber finish, and read both sides (same clock time)."""
        self.run(self.rig.positions.sync())
        self.run(self.rig.settle())
        records, history = self.run(self._read_database())
        terminal = self.rig.terminal
        self.snapshot = Snapshot(
            trades=records,
            history=history,
            positions=[p for p in terminal.positions_get() or () if p.magic == MAGIC],
            deals=list(terminal.history_deals_get(*ALL_TIME) or ()),
            deals_of={
                r.id: list(terminal.history_deals_get(position=r.mt5_position) or ())
                for r in records
                if r.mt5_position is not None
            },
        )
        return self.snapshot

    async def _read_database(self) -> tuple[list[TradeRecord], dict[int, list[Move]]]:
        async with self.db.connect() as plain:
            conn = await plain.execution_options(isolation_level="REPEATABLE READ")
            rows = (await conn.execute(select(trades).order_by(trades.c.id))).mappings()
            records = [trade_from_row(row) for row in rows]
            moves = await conn.execute(select(trade_transitions).order_by(trade_transitions.c.id))
            history: dict[int, list[Move]] = {}
            for move in moves.mappings():
                source = None if move["from_status"] is None else TradeStatus(move["from_status"])
                history.setdefault(move["trade_id"], []).append(
                    (source, TradeStatus(move["to_status"]))
                )
        return records, history

    def trade(self, trade_id: int) -> TradeRecord:
        record = self.run(self.rig.trades.get(trade_id))
        assert record is not None
        return record

    def _open(
        self, symbol: str, side: Side, sl: int, tp: int, volume: float | None
    ) -> TradeRecord | None:
        spec = self.rig.connector.spec(symbol)
        tick = self.rig.connector.last_tick(symbol)
        assert tick is not None
        entry = tick.ask if side is Side.BUY else tick.bid
        order = ManualOrder(
            symbol=symbol,
            side=side,
            sl=entry - side.value * sl * spec.point,
            tp=entry + side.value * tp * spec.point if tp else None,
            volume=volume,
        )
        try:
            opened = self.run(self.rig.engine.control.open_trade(order, actor="hypothesis"))
        except RiskRejection as refused:
            event(f"open refused by risk: {refused.code}")
            return None
        except InvalidInputError as refused:
            event(f"open refused: {refused.code}")
            return None
        return self.trade(opened.id)

    def _opened(self, record: TradeRecord | None) -> Any:
        self._sync()
        if record is None:
            return multiple()
        after = self.trade(record.id)
        event(f"open -> {record.status.value}")
        assert after.status in (TradeStatus.OPEN, TradeStatus.REJECTED), after
        return record.id

    @contextlib.contextmanager
    def _answer_lost(self) -> Iterator[list[dict[str, Any]]]:
        """The next order_send executes but its answer is lost (-10005); yields the requests
        sent that way (none when no order was sent)."""
        terminal = self.rig.terminal
        real_order_send = terminal.order_send
        sent: list[dict[str, Any]] = []

        def lose_the_answer(request: dict[str, Any]) -> Any:
            # Armed right before the order itself: ipc_timeout(calls=1) fails the next call
            # of any kind, and the first terminal call of an open is the risk manager's
            # account read, not the order.
            del terminal.order_send  # one order only
            sent.append(request)
            terminal.faults.ipc_timeout(calls=1, order_executes=True)
            return real_order_send(request)

        terminal.order_send = lose_the_answer  # type: ignore[method-assign]
        try:
            yield sent
        finally:
            vars(terminal).pop("order_send", None)

    # -- rules ------------------------------------------------------------------------------

    @rule(target=opened, symbol=symbols, side=sides, sl=sl_points, tp=tp_points, volume=volumes)
    def open_trade(self, symbol: str, side: Side, sl: int, tp: int, volume: float | None) -> Any:
        return self._opened(self._open(symbol, side, sl, tp, volume))

    @rule(target=opened, symbol=symbols, side=sides, sl=sl_points, tp=tp_points, volume=volumes)
    def open_trade_whose_answer_is_lost(
        self, symbol: str, side: Side, sl: int, tp: int, volume: float | None
    ) -> Any:
        """The order executes but its answer is lost (-10005): execution must find the
        position by its client order id, never send the order again."""
        with self._answer_lost() as sent:
            record = self._open(symbol, side, sl, tp, volume)
        if record is not None and sent:
            event("order answer lost")
            assert record.status is TradeStatus.OPEN, record
            assert record.execution_details.get("found_after_timeout") is True, record
        return self._opened(record)

    def _pick(self, pick: int) -> TradeRecord:
        """One of the open trades (as of the last sync: the clock has not moved since)."""
        live = [t for t in self.snapshot.trades if t.status is TradeStatus.OPEN]
        return self.trade(live[pick % len(live)].id)

    @precondition(has_open_trades)
    @rule(pick=picks, fraction=fractions, lost=st.booleans())
    def close_part_by_the_bot(self, pick: int, fraction: float, lost: bool) -> None:
        before = self._pick(pick)
        volume = part_of(before.open_volume, fraction)
        if volume is None:
            event("bot partial close: nothing to leave open")
            return
        event("bot partial close" + (", answer lost" if lost else ""))
        control = self.rig.engine.control
        with self._answer_lost() if lost else contextlib.nullcontext():
            self.run(control.close_trade(before.id, volume=float(volume), actor="hypothesis"))
        after = self.trade(before.id)
        assert after.status is TradeStatus.OPEN, after
        assert after.closed_volume == before.closed_volume + volume, (before, after)
        self._sync()

    @precondition(has_open_trades)
    @rule(pick=picks, lost=st.booleans())
    def close_by_the_bot(self, pick: int, lost: bool) -> None:
        before = self._pick(pick)
        event("bot close" + (", answer lost" if lost else ""))
        control = self.rig.engine.control
        with self._answer_lost() if lost else contextlib.nullcontext():
            self.run(control.close_trade(before.id, volume=None, actor="hypothesis"))
        after = self.trade(before.id)
        assert after.status is TradeStatus.CLOSED, after
        assert after.close_reason == "manual_api", after
        self._sync()

    @precondition(has_open_trades)
    @rule(pick=picks, fraction=st.sampled_from([None, 0.25, 0.5, 0.75]))
    def close_by_hand_in_the_terminal(self, pick: int, fraction: float | None) -> None:
        before = self._pick(pick)
        terminal = self.rig.terminal
        assert before.mt5_position is not None
        (position,) = terminal.positions_get(ticket=before.mt5_position) or ()
        volume = before.open_volume if fraction is None else part_of(before.open_volume, fraction)
        if volume is None:
            event("hand partial close: nothing to leave open")
            return
        event(f"hand close: {'all' if fraction is None else 'part'}")
        tick = terminal.symbol_info_tick(position.symbol)
        assert tick is not None
        buy = position.type == mt5c.POSITION_TYPE_BUY
        result = terminal.order_send(
            {
                "action": mt5c.TRADE_ACTION_DEAL,
                "symbol": position.symbol,
                "volume": float(volume),
                "type": mt5c.ORDER_TYPE_SELL if buy else mt5c.ORDER_TYPE_BUY,
                "position": position.ticket,
                "price": tick.bid if buy else tick.ask,
                "deviation": 20,
                "magic": 0,
                "comment": "closed by hand",
                "type_time": mt5c.ORDER_TIME_GTC,
                "type_filling": mt5c.ORDER_FILLING_FOK,
            }
        )
        assert result is not None, terminal.last_error()
        assert result.retcode == mt5c.TRADE_RETCODE_DONE, result
        self._sync()
        after = self.trade(before.id)
        assert after.closed_volume == before.closed_volume + volume, (before, after)
        whole = after.closed_volume == after.volume
        assert after.status is (TradeStatus.CLOSED if whole else TradeStatus.OPEN), after
        assert not whole or after.close_reason == "expert", after  # order_send from a script

    @precondition(has_open_trades)
    @rule(pick=picks, distance=sl_points)
    def move_the_stop_loss(self, pick: int, distance: int) -> None:
        before = self._pick(pick)
        spec = self.rig.connector.spec(before.symbol)
        tick = self.rig.connector.last_tick(before.symbol)
        assert tick is not None
        reference = tick.bid if before.side is Side.BUY else tick.ask
        sl = spec.round_price(reference - before.side.value * distance * spec.point)
        event("stop-loss moved")
        self.run(self.rig.engine.control.modify_trade(before.id, sl=sl, tp=None, actor="h"))
        (position,) = self.rig.terminal.positions_get(ticket=before.mt5_position) or ()
        assert position.sl == sl
        assert self.trade(before.id).sl == Decimal(repr(sl))
        self._sync()

    @rule(trade_id=opened, action=st.sampled_from(["close", "close part", "move the stop"]))
    def act_on_a_finished_trade(self, trade_id: int, action: str) -> None:
        """Refused, changing nothing (the trade may still be open: then nothing to do)."""
        before = self.trade(trade_id)
        if before.status is TradeStatus.OPEN:
            return
        event("action on a finished trade refused")
        control = self.rig.engine.control
        history = self.snapshot.history[trade_id]
        if action == "move the stop":
            attempt = control.modify_trade(trade_id, sl=1.0, tp=None, actor="hypothesis")
        else:
            volume = 0.01 if action == "close part" else None
            attempt = control.close_trade(trade_id, volume=volume, actor="hypothesis")
        with pytest.raises(StateConflictError):
            self.run(attempt)
        assert self.trade(trade_id) == before
        assert self._sync().history[trade_id] == history

    @precondition(has_open_trades)
    @rule(minutes=st.sampled_from([5, 30, 90, 240, 720]))  # 720: past a rollover (swap)
    def let_the_market_move(self, minutes: int) -> None:
        event("market moved")
        self.run(self.rig.advance(minutes * 60, step=300))
        before = {t.id for t in self.snapshot.trades if t.status is TradeStatus.OPEN}
        for trade in self._sync().trades:
            if trade.id in before and trade.status is TradeStatus.CLOSED:
                event(f"closed at the terminal: {trade.close_reason}")
            if trade.swap:
                event("swap charged")

    # -- invariants (on the snapshot taken after the last step's sync) -----------------------

    @invariant()
    def each_trade_is_in_one_state_reached_by_legal_moves(self) -> None:
        snap = self.snapshot
        assert set(snap.history) <= {t.id for t in snap.trades}
        for trade in snap.trades:
            moves = snap.history.get(trade.id, [])
            assert moves, f"trade {trade.id} has no history"
            assert moves[0][0] is None, (trade.id, moves)
            for (_, reached), (source, target) in itertools.pairwise(moves):
                assert source is reached, (trade.id, moves)
                assert can_move(reached, target), (trade.id, moves)
            assert moves[-1][1] is trade.status, (trade.id, trade.status, moves)
            assert trade.status not in TRANSIENT, (trade.id, trade.status, moves)
            assert trade.strategy != "adopted", f"position adopted as trade {trade.id}: {trade}"

    @invariant()
    def volume_is_conserved(self) -> None:
        snap = self.snapshot
        by_ticket = {p.ticket: p for p in snap.positions}
        for trade in snap.trades:
            assert 0 <= trade.closed_volume <= trade.volume, trade
            if trade.status is TradeStatus.CLOSED:
                assert trade.closed_volume == trade.volume, trade
            if trade.status is TradeStatus.OPEN:
                position = by_ticket.get(trade.mt5_position or 0)
                assert position is not None, f"open trade {trade.id} lost its position"
                assert _volume(position.volume) == trade.volume - trade.closed_volume, (
                    trade,
                    position,
                )
            if trade.mt5_position is not None:
                exits = [d for d in snap.deals_of[trade.id] if d.entry != mt5c.DEAL_ENTRY_IN]
                assert _volume(sum(d.volume for d in exits)) == trade.closed_volume, (trade, exits)

    @invariant()
    def terminal_positions_are_the_open_trades(self) -> None:
        snap = self.snapshot
        tickets = [p.ticket for p in snap.positions]
        held = [t.mt5_position for t in snap.trades if t.status is TradeStatus.OPEN]
        assert len(set(held)) == len(held), f"a position held twice: {held}"
        assert sorted(tickets) == sorted(held), (tickets, held)  # type: ignore[type-var]

    @invariant()
    def closed_profit_is_the_deals_profit(self) -> None:
        snap = self.snapshot
        for trade in snap.trades:
            if trade.status is not TradeStatus.CLOSED:
                continue
            deals = snap.deals_of[trade.id]
            exits = [d for d in deals if d.entry != mt5c.DEAL_ENTRY_IN]
            assert trade.profit == _money(sum(d.profit for d in exits)), (trade, exits)
            assert trade.swap == _money(sum(d.swap for d in deals)), (trade, deals)
            assert trade.commission == _money(sum(d.commission for d in deals)), (trade, deals)

    @invariant()
    def no_order_was_sent_twice(self) -> None:
        snap = self.snapshot
        entries = [d for d in snap.deals if d.entry == mt5c.DEAL_ENTRY_IN and d.magic == MAGIC]
        ever_opened = [t for t in snap.trades if t.mt5_position is not None]
        assert len(entries) == len(ever_opened), (entries, ever_opened)
        assert {d.position_id for d in entries} == {t.mt5_position for t in ever_opened}
        by_position = {d.position_id: d for d in entries}
        for trade in ever_opened:
            assert by_position[trade.mt5_position].comment == trade.client_order_id, trade


def test_random_trade_lifecycles_keep_the_invariants(migrated_database_url: str) -> None:
    TradeLifecycle.database_url = migrated_database_url
    run_state_machine_as_test(
        TradeLifecycle,
        settings=settings(
            max_examples=15,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
