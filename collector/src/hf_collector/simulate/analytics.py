"""A line's own MES for one simulated workcell: its orders, parts and states as UMH Classic ``_analytics``.

The demo's other machines are read by the collector (OPC UA, Modbus, S7) and Odoo publishes their orders;
this one has no PLC tags: like a UMH instance's line, it announces what it does itself, so the demo shows
the loop from the line into MRP. A :class:`Machine` makes the parts and changes state; every order of
``order_quantity`` parts is created and started, its parts reported as ``product/add`` every
``report_s`` seconds, it is stopped when made, and each state change is a ``state/add`` (UMH's codes).

The events are built and checked with ``hf_core.analytics`` (the one owner of the schema and the topic).
An order's create and start, and the state in force, are sent again every ``repeat_s`` seconds with the
same bytes: the ingest stores an event once by its key, so a repeat changes nothing, and an ingest started
after the simulator still learns the running order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hf_collector.simulate.machine import Machine
from hf_core.analytics import encode_event, event_topic, validate_event

# the workcell (a level below the demo's line) and what it makes
ANALYTICS_WORKCELL = "assembly1"
PRODUCT_CODE = "SIM-ASSY-1"
PRODUCT_NAME = "Bracket assembly"
# UMH Classic state codes for the simulated machine's states: producing, a material shortage (the
# simulator's idle is "waiting for material"), an equipment failure
UMH_STATES = {"running": 10000, "idle": 60000, "down": 180000}


@dataclass
class AnalyticsCell:
    """Turns a :class:`Machine`'s counters and state into ``(topic, payload)`` events, oldest first."""

    machine: Machine
    location: tuple[str, ...]  # enterprise, site, area, line, workcell
    order_quantity: int = 20
    report_s: float = 10.0
    repeat_s: float = 15.0
    orders: int = 0
    _order: dict[str, Any] | None = field(default=None, repr=False)
    _state: tuple[str, int] | None = field(default=None, repr=False)  # the state in force, since (ms)
    _reported: tuple[int, int] = (0, 0)  # the machine's good and scrap counts last reported
    _made: int = 0  # parts of the running order reported so far
    _last_report_ms: int = 0
    _last_repeat_ms: int = 0
    _announced_product: bool = False

    def events(self, now_ms: int) -> list[tuple[str, bytes]]:
        """What happened since the last call, at ``now_ms`` (epoch ms): the events to publish, in order."""
        out: list[tuple[str, bytes]] = []
        if not self._announced_product:
            cycle_ms = round(self.machine.cycle_time_s * 1000)
            out.append(
                self._event(
                    "product-type/create", {"external_product_type_id": PRODUCT_CODE, "cycle_time_ms": cycle_ms}
                )
            )
            self._announced_product = True
        if self._state is None or self._state[0] != self.machine.state:
            self._state = (self.machine.state, now_ms)
            out.append(self._state_event())
        if self._order is None:
            out.extend(self._start_order(now_ms))
        elif now_ms - self._last_repeat_ms >= self.repeat_s * 1000:
            # the state first: a workcell with states from the line is machine-driven before its order starts
            # (hf_mrp then opens no operator timer beside the machine's time)
            out.append(self._state_event())
            out.extend(self._order_events())
            self._last_repeat_ms = now_ms
        if now_ms - self._last_report_ms >= self.report_s * 1000:
            out.extend(self._report(now_ms))
        return out

    def _start_order(self, now_ms: int) -> list[tuple[str, bytes]]:
        self.orders += 1
        cycle_ms = round(self.machine.cycle_time_s * 1000)
        self._order = {
            "create": {
                "external_work_order_id": f"SIM-{self.location[-1]}-{self.orders:05d}",
                "product": {"external_product_id": PRODUCT_CODE, "cycle_time_ms": cycle_ms},
                "quantity": self.order_quantity,
            },
            "start_ms": now_ms,
        }
        self._made = 0
        self._reported = (self.machine.good_count, self.machine.scrap_count)
        self._last_report_ms = self._last_repeat_ms = now_ms
        return self._order_events()

    def _order_events(self) -> list[tuple[str, bytes]]:
        assert self._order is not None
        external_id = self._order["create"]["external_work_order_id"]
        return [
            self._event("work-order/create", self._order["create"]),
            self._event(
                "work-order/start",
                {"external_work_order_id": external_id, "start_time_unix_ms": self._order["start_ms"]},
            ),
        ]

    def _state_event(self) -> tuple[str, bytes]:
        assert self._state is not None
        state, since_ms = self._state
        return self._event("state/add", {"state": UMH_STATES[state], "start_time_unix_ms": since_ms})

    def _report(self, now_ms: int) -> list[tuple[str, bytes]]:
        assert self._order is not None
        good, scrap = self.machine.good_count - self._reported[0], self.machine.scrap_count - self._reported[1]
        out: list[tuple[str, bytes]] = []
        if good + scrap > 0:
            out.append(
                self._event(
                    "product/add",
                    {
                        "external_product_type_id": PRODUCT_CODE,
                        "start_time_unix_ms": self._last_report_ms,
                        "end_time_unix_ms": now_ms,
                        "quantity": good + scrap,
                        "bad_quantity": scrap,
                    },
                )
            )
            self._reported = (self.machine.good_count, self.machine.scrap_count)
            self._made += good + scrap
            self._last_report_ms = now_ms
        if self._made >= self.order_quantity:
            out.append(
                self._event(
                    "work-order/stop",
                    {
                        "external_work_order_id": self._order["create"]["external_work_order_id"],
                        "end_time_unix_ms": now_ms,
                    },
                )
            )
            self._order = None
        return out

    def _event(self, event_type: str, payload: dict[str, Any]) -> tuple[str, bytes]:
        body = encode_event(payload)
        validate_event(event_type, body)  # what we send is what UMH's schema takes, or we fail loudly here
        return event_topic(self.location, event_type), body
