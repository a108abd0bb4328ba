from datetime import UTC, datetime, timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import HfScreensCommon, create_workorder


@tagged("post_install", "-at_install")
class TestScreen(HfScreensCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Screen = cls.env["hf.screen"]
        cls.screen = cls.Screen._hf_generate_for_workcenter(cls.workcenter)

    def kinds(self, screen):
        return screen.widget_ids.mapped("kind")

    def test_default_screen_from_tags(self):
        kinds = self.kinds(self.screen)
        for kind in ("state", "oee", "counters", "downtime", "workorder", "alarms", "trend"):
            self.assertIn(kind, kinds)
        state = self.screen.widget_ids.filtered(lambda w: w.kind == "state")
        self.assertEqual(state.tag_id, self.tag_state)
        gauge = self.screen.widget_ids.filtered(lambda w: w.kind == "gauge")
        self.assertEqual(gauge.tag_id, self.tag_temperature, "the tag with limits becomes a gauge")
        for widget in self.screen.widget_ids:
            self.assertLessEqual(widget.x + widget.w, 12, "every tile fits the grid")
        # no two tiles overlap
        cells = set()
        for widget in self.screen.widget_ids:
            for col in range(widget.x, widget.x + widget.w):
                for row in range(widget.y, widget.y + widget.h):
                    self.assertNotIn((col, row), cells)
                    cells.add((col, row))

    def test_default_screen_without_tags(self):
        bare = self.create_workcenter("Saw 1", "saw1")
        screen = self.Screen._hf_generate_for_workcenter(bare)
        self.assertEqual(sorted(self.kinds(screen)), ["downtime", "oee", "workorder"])

    def test_open_from_workcenter_generates_once(self):
        bare = self.create_workcenter("Saw 2", "saw2")
        action = bare.action_hf_open_screen()
        self.assertEqual(action["tag"], "hf_screens.machine_screen")
        self.assertEqual(action["target"], "fullscreen")
        bare.action_hf_open_screen()
        self.assertEqual(len(bare.hf_screen_ids), 1)

    def test_grid_and_target_checks(self):
        with self.assertRaises(ValidationError):
            self.env["hf.screen.widget"].create({"screen_id": self.screen.id, "kind": "value", "x": 10, "w": 4})
        with self.assertRaises(ValidationError):
            self.env["hf.screen.widget"].create(
                {"screen_id": self.screen.id, "kind": "gauge", "value_min": 5, "value_max": 5}
            )
        with self.assertRaisesRegex(ValidationError, "either to a workcell or to a line"):
            self.Screen.create({"name": "Both", "workcenter_id": self.workcenter.id, "line_id": self.line.id})
        with self.assertRaisesRegex(ValidationError, "either to a workcell or to a line"):
            self.Screen.create({"name": "None"})

    def test_copy_to_same_kind_remaps_by_tag_name(self):
        press2 = self.create_workcenter("Press 2", "press2")
        for wc in (self.workcenter, press2):
            wc.hf_machine_kind = "press-250t"
        device2 = self.env["hf.uns.device"].create(
            {
                "name": "press2-plc",
                "protocol": "modbus",
                "host": "10.0.0.6",
                "edge_id": self.edge.id,
                "workcenter_id": press2.id,
            }
        )
        temp2 = self.create_tag(
            "temperature", device=device2, workcenter=press2, modbus_address=0, modbus_type="float32"
        )
        state2 = self.create_tag(
            "state",
            device=device2,
            workcenter=press2,
            modbus_address=10,
            modbus_type="uint16",
            data_type="int",
            role="machine_state",
        )
        action = self.screen.action_copy_to_same_kind()
        copy = press2.hf_screen_ids
        self.assertEqual(len(copy), 1)
        self.assertEqual(len(copy.widget_ids), len(self.screen.widget_ids))
        self.assertEqual(copy.widget_ids.filtered(lambda w: w.kind == "gauge").tag_id, temp2)
        self.assertEqual(copy.widget_ids.filtered(lambda w: w.kind == "state").tag_id, state2)
        unbound = copy.widget_ids.filtered(lambda w: w.bound_tag_name == "spindle$speed")
        self.assertFalse(unbound.tag_id, "press 2 has no spindle speed: the tile stays unbound")
        self.assertIn("spindle$speed", action["params"]["message"])
        self.assertFalse(
            copy.widget_ids.tag_id.filtered(lambda t: t.workcenter_id != press2),
            "no tile of the copy points at press 1",
        )
        # copying again replaces, does not pile up
        self.screen.action_copy_to_same_kind()
        self.assertEqual(len(press2.hf_screen_ids), 1)

    def test_copy_binds_a_tag_whose_groups_are_typed_with_slashes(self):
        """One $-name (hf_core.uns.TagKey): groups typed 'spindle/motor' and 'spindle$motor' are the same tag
        name, so a copied tile finds its tag (the hand join kept 'spindle/motor$current' and missed it)."""
        current = self.create_tag(
            "current", tag_group="spindle/motor", modbus_address=20, modbus_type="uint16", data_type="int"
        )
        self.env["hf.screen.widget"].create(
            {"screen_id": self.screen.id, "kind": "value", "tag_id": current.id, "x": 0, "y": 20}
        )
        press2 = self.create_workcenter("Press 2", "press2")
        for wc in (self.workcenter, press2):
            wc.hf_machine_kind = "press-250t"
        current2 = self.create_tag("current", tag_group="spindle$motor", workcenter=press2, device=False)
        self.screen.action_copy_to_same_kind()
        tile = press2.hf_screen_ids.widget_ids.filtered(lambda w: w.bound_tag_name == "spindle$motor$current")
        self.assertEqual(tile.tag_id, current2)

    def test_copy_needs_a_kind(self):
        with self.assertRaisesRegex(UserError, "machine kind"):
            self.screen.action_copy_to_same_kind()

    def test_payload_bad_input(self):
        value = self.env["hf.screen.widget"].create(
            {"screen_id": self.screen.id, "kind": "value", "tag_id": self.tag_speed.id, "x": 0, "y": 20}
        )
        text_tag = self.create_tag(
            "recipe", modbus_address=30, modbus_type="string", modbus_length=8, data_type="string"
        )
        gauge = self.env["hf.screen.widget"].create(
            {"screen_id": self.screen.id, "kind": "gauge", "tag_id": text_tag.id, "x": 3, "y": 20}
        )
        self.tag_speed.unlink()
        payload = self.screen._hf_payload()
        tiles = {tile["id"]: tile for tile in payload["widgets"]}
        self.assertFalse(tiles[value.id]["tag_id"])
        self.assertIn("spindle$speed", tiles[value.id]["problem"])
        self.assertIn("no longer exists", tiles[value.id]["problem"])
        self.assertIn("gauge needs a number", tiles[gauge.id]["problem"])
        # tags without data: present, no value, marked stale
        entry = payload["values"][self.tag_temperature.id]
        self.assertIsNone(entry["value"])
        self.assertTrue(entry["stale"])
        self.assertEqual(payload["workorder"]["current"], False)

    def test_trend_of_a_young_tag_has_its_points(self):
        # A tag one minute old, in a day's window: the historian lays buckets from the window's start
        # (one 5-minute bucket, one point); the trend reads from where the data begins instead.
        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        self.store(self.tag_temperature, [(now - timedelta(seconds=60 - s), 40.0 + s / 10) for s in range(60)])
        history = self.screen._hf_trend(self.tag_temperature.id, 24 * 60)
        self.assertEqual(len(history["points"]), 60)
        self.assertEqual(history["points"][-1]["last"], 45.9)
        past = self.screen._hf_trend(self.tag_temperature.id, 10, f"{(now - timedelta(hours=1)).isoformat()}Z")
        self.assertEqual(past["points"], [], "no data in that window")

    def test_value_reported_on_change_holds_while_its_device_delivers(self):
        # The machine state came 55 s ago (reported only on change); its device's temperature a second ago.
        now = datetime.now(UTC).replace(microsecond=0)
        self.store(self.tag_state, [(now.replace(tzinfo=None) - timedelta(seconds=55), 1)])
        self.store(self.tag_temperature, [(now.replace(tzinfo=None) - timedelta(seconds=1), 42.0)])
        state = self.screen._hf_payload(now)["values"][self.tag_state.id]
        self.assertEqual(state["value"], 1)
        self.assertEqual(state["time"], (now - timedelta(seconds=55)).isoformat())
        self.assertEqual((state["age"], state["stale"]), (1.0, False), "the device still delivers: the state holds")
        state = self.screen._hf_payload(now + timedelta(seconds=30))["values"][self.tag_state.id]
        self.assertEqual((state["age"], state["stale"]), (31.0, False), "within a heartbeat (60 s): it still holds")
        state = self.screen._hf_payload(now + timedelta(seconds=100))["values"][self.tag_state.id]
        self.assertEqual((state["age"], state["stale"]), (101.0, True), "the whole device fell silent past 1.5 beats")

    def test_steady_value_holds_until_its_heartbeat_lapses(self):
        """Issue 16, point 1: a state that does not change is repeated by the edge every heartbeat; between two
        beats it is the value, not "Stale · 50 s ago". Only silence beyond 1.5 heartbeats makes it stale."""
        now = datetime.now(UTC).replace(microsecond=0)
        self.store(self.tag_state, [(now.replace(tzinfo=None) - timedelta(seconds=50), 1)])
        state = self.screen._hf_payload(now)["values"][self.tag_state.id]
        self.assertEqual((state["value"], state["stale"], state["stale_after"]), (1, False, 90.0))
        self.assertTrue(
            self.screen._hf_payload(now + timedelta(seconds=41))["values"][self.tag_state.id]["stale"],
            "91 s without a value or a beat: the edge or its link is gone",
        )
        self.edge.heartbeat_s = 10.0
        state = self.screen._hf_payload(now)["values"][self.tag_state.id]
        self.assertEqual((state["stale"], state["stale_after"]), (True, 15.0), "a short heartbeat, a short wait")
        self.store(self.tag_state, [(now.replace(tzinfo=None) - timedelta(seconds=5), 1, 2)])
        state = self.screen._hf_payload(now)["values"][self.tag_state.id]
        self.assertEqual(state["quality"], 2, "a bad-quality sample ends the value at once")

    def test_line_screen(self):
        screen = self.Screen.create(
            {
                "name": "Line 1 overview",
                "line_id": self.line.id,
                "widget_ids": [
                    Command.create({"kind": "value", "tag_id": self.tag_temperature.id}),
                    Command.create({"kind": "workorder", "x": 3}),
                ],
            }
        )
        self.assertEqual(screen.company_id, self.company)
        payload = screen._hf_payload()
        tiles = {tile["kind"]: tile for tile in payload["widgets"]}
        self.assertEqual(tiles["value"]["problem"], "")
        self.assertIn("workcell's screen", tiles["workorder"]["problem"])
        self.assertFalse(payload["workorder"])
        with self.assertRaisesRegex(UserError, "workcell's screen"):
            screen._hf_operator_action("start", {}, self.operator)

    def test_cached_layout_follows_tag_changes(self):
        tile = self.screen.widget_ids.filtered(lambda w: w.tag_id == self.tag_temperature and w.kind == "gauge")
        first = {t["id"]: t for t in self.screen._hf_payload()["widgets"]}
        self.assertEqual(first[tile.id]["tag_id"], self.tag_temperature.id)
        self.tag_temperature.unlink()
        second = {t["id"]: t for t in self.screen._hf_payload()["widgets"]}
        self.assertFalse(second[tile.id]["tag_id"])
        self.assertIn("no longer exists", second[tile.id]["problem"])

    def test_alarm_acknowledgement_holds_until_back_in_limits(self):
        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        self.store(self.tag_temperature, [(now - timedelta(seconds=10), 95.0)])
        alarms = self.screen._hf_payload()["alarms"]
        self.assertEqual(
            [(a["tag_id"], a["kind"], a["acked_by"]) for a in alarms], [(self.tag_temperature.id, "high", False)]
        )
        self.screen._hf_operator_action("ack", {"tag_id": self.tag_temperature.id, "kind": "high"}, self.operator)
        ack = self.env["hf.screen.alarm.ack"].search([("tag_id", "=", self.tag_temperature.id)])
        self.assertEqual(ack.user_id, self.operator)
        self.assertEqual(ack.value, 95.0)
        # still too hot: the acknowledgement holds, shared by every screen
        ack.date = (now - timedelta(seconds=5)).replace(tzinfo=None)
        self.store(self.tag_temperature, [(now - timedelta(seconds=3), 97.0)])
        self.assertEqual(self.screen._hf_payload()["alarms"][0]["acked_by"], self.operator.name)
        # back within limits, then too hot again: a new alarm to acknowledge
        self.store(self.tag_temperature, [(now - timedelta(seconds=2), 50.0), (now - timedelta(seconds=1), 99.0)])
        self.assertFalse(self.screen._hf_payload()["alarms"][0]["acked_by"])
        with self.assertRaisesRegex(UserError, "not on this screen"):
            self.screen._hf_operator_action(
                "ack", {"tag_id": self.tag_temperature.id, "kind": "sideways"}, self.operator
            )

    def test_operator_reads_but_cannot_edit(self):
        screen = self.screen.with_user(self.operator)
        self.assertTrue(screen.name)
        self.assertTrue(screen.widget_ids)
        with self.assertRaises(AccessError):
            screen.write({"theme": "light"})
        with self.assertRaises(AccessError):
            screen.widget_ids[:1].write({"w": 1})
        self.screen.with_user(self.engineer).write({"theme": "light"})
        self.assertEqual(self.screen.theme, "light")

    def test_other_company_cannot_read(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        outsider = self.create_user("hf_screens_outsider", "hf_uns.group_hf_operator", company=other)
        with self.assertRaises(AccessError):
            self.screen.with_user(outsider).read(["name"])

    def test_workorder_actions(self):
        # A workcell without a machine-state tag: Odoo's own operator timers record the time.
        saw = self.create_workcenter("Saw 5", "saw5")
        screen = self.Screen._hf_generate_for_workcenter(saw)
        workorder = create_workorder(self.env, saw)
        payload = screen._hf_payload()["workorder"]["current"]
        self.assertEqual(payload["id"], workorder.id)
        self.assertEqual(payload["qty_planned"], 10)
        screen._hf_operator_action("start", {"workorder_id": workorder.id}, self.operator)
        self.assertEqual(workorder.state, "progress")
        self.assertEqual(workorder.time_ids.user_id, self.operator, "MRP logs who started it")
        self.assertTrue(screen._hf_payload()["workorder"]["current"]["running"])
        screen._hf_operator_action("pause", {"workorder_id": workorder.id}, self.operator)
        self.assertTrue(all(workorder.time_ids.mapped("date_end")))
        self.assertFalse(screen._hf_payload()["workorder"]["current"]["running"])
        screen._hf_operator_action("scrap", {"workorder_id": workorder.id, "qty": 2}, self.operator)
        scrap = self.env["stock.scrap"].search([("workorder_id", "=", workorder.id)])
        self.assertEqual(scrap.scrap_qty, 2)
        self.assertEqual(scrap.state, "done")
        screen._hf_operator_action("finish", {"workorder_id": workorder.id}, self.operator)
        self.assertEqual(workorder.state, "done")
        with self.assertRaisesRegex(UserError, "no longer planned|already"):
            screen._hf_operator_action("finish", {"workorder_id": workorder.id}, self.operator)
        with self.assertRaisesRegex(UserError, "how many parts"):
            other = create_workorder(self.env, saw, name="Plate")
            screen._hf_operator_action("scrap", {"workorder_id": other.id, "qty": "abc"}, self.operator)

    def test_workorder_actions_machine_driven(self):
        # The press has a machine-state tag: starting opens no operator timer, the machine is the clock.
        workorder = create_workorder(self.env, self.workcenter)
        self.screen._hf_operator_action("start", {"workorder_id": workorder.id}, self.operator)
        self.assertEqual(workorder.state, "progress")
        self.assertFalse(workorder.time_ids, "no operator timer on a machine-driven workcell")
        self.assertEqual(self.workcenter.hf_workorder_id, workorder)
        self.assertTrue(self.screen._hf_payload()["workorder"]["current"]["running"])
        self.screen._hf_operator_action("pause", {"workorder_id": workorder.id}, self.operator)
        self.assertFalse(self.workcenter.hf_workorder_id)
        self.assertEqual(workorder.state, "progress", "paused: Odoo keeps the order in progress")
        self.assertFalse(self.screen._hf_payload()["workorder"]["current"]["running"])
        self.screen._hf_operator_action("start", {"workorder_id": workorder.id}, self.operator)
        self.screen._hf_operator_action("finish", {"workorder_id": workorder.id}, self.operator)
        self.assertEqual(workorder.state, "done")
        self.assertFalse(self.workcenter.hf_workorder_id)
        self.assertFalse(
            self.Productivity.search([("workcenter_id", "=", self.workcenter.id), ("hf_source", "!=", "machine")])
        )

    def test_only_operators_act(self):
        workorder = create_workorder(self.env, self.workcenter)
        stranger = self.create_user("hf_screens_stranger", "base.group_user")
        with self.assertRaises(AccessError):
            self.screen._hf_operator_action("start", {"workorder_id": workorder.id}, stranger)
        self.assertEqual(workorder.state, "ready")

    def test_workorder_of_another_workcenter_is_refused(self):
        saw = self.create_workcenter("Saw 3", "saw3")
        workorder = create_workorder(self.env, saw)
        with self.assertRaisesRegex(UserError, "no longer planned"):
            self.screen._hf_operator_action("start", {"workorder_id": workorder.id}, self.operator)
        self.assertEqual(workorder.state, "ready")

    def test_downtime_reason_on_machine_stop(self):
        now = datetime.now().replace(microsecond=0)
        self.env["hf.machine.state"]._apply_samples(
            self.workcenter,
            [
                (now - timedelta(seconds=40), "running"),
                (now - timedelta(seconds=20), "down"),
                (now - timedelta(seconds=5), "down"),
            ],
        )
        setup = self.env.ref("mrp.block_reason2")
        self.screen._hf_operator_action("reason", {"loss_id": setup.id}, self.operator)
        record = self.machine_records()[-1]
        self.assertEqual(record.loss_id, setup)
        self.assertEqual(record.hf_reason_user_id, self.operator)
        with self.assertRaisesRegex(UserError, "downtime reasons shown"):
            self.screen._hf_operator_action("reason", {"loss_id": self.env.ref("mrp.block_reason7").id}, self.operator)

    def test_downtime_reason_without_machine_state(self):
        saw = self.create_workcenter("Saw 4", "saw4")
        screen = self.Screen._hf_generate_for_workcenter(saw)
        loss = self.env.ref("mrp.block_reason0")
        screen._hf_operator_action("reason", {"loss_id": loss.id}, self.operator)
        record = self.Productivity.search([("workcenter_id", "=", saw.id)])
        self.assertEqual(record.loss_id, loss)
        self.assertEqual(record.hf_source, "operator")
        self.assertEqual(saw.working_state, "blocked")
        screen._hf_operator_action("resume", {}, self.operator)
        self.assertTrue(record.date_end)
        self.assertEqual(saw.working_state, "normal")


@tagged("post_install", "-at_install")
class TestScreenCompanies(HfScreensCommon):
    """A screen, its tiles and a kiosk reach only their own company's tags and screens (checked by the models,
    not only by the forms' domains): a kiosk serves them to whoever holds its link."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other, cls.rival_press, cls.secret = cls.create_other_company_plant()
        cls.screen = cls.env["hf.screen"]._hf_generate_for_workcenter(cls.workcenter)

    def test_widget_extra_tags_of_another_company_are_refused(self):
        Widget = self.env["hf.screen.widget"]
        with self.assertRaisesRegex(ValidationError, "belongs to another company"):
            Widget.create(
                {
                    "screen_id": self.screen.id,
                    "kind": "trend",
                    "tag_id": self.tag_temperature.id,
                    "tag_ids": [Command.set(self.secret.ids)],
                    "y": 40,
                }
            )
        trend = Widget.create(
            {"screen_id": self.screen.id, "kind": "trend", "tag_id": self.tag_temperature.id, "y": 40}
        )
        with self.assertRaisesRegex(ValidationError, "belongs to another company"), self.env.cr.savepoint():
            trend.write({"tag_ids": [Command.link(self.secret.id)]})
        with self.assertRaisesRegex(ValidationError, "belongs to another company"), self.env.cr.savepoint():
            trend.write({"tag_id": self.secret.id})
        self.assertFalse(trend.tag_ids)
        self.assertEqual(trend.tag_id, self.tag_temperature)

    def test_another_companys_workcell_gets_a_screen_of_its_company(self):
        """Its screen is that company's (not the current one), so its own tags are accepted on it."""
        screen = self.env["hf.screen"]._hf_generate_for_workcenter(self.rival_press)
        self.assertEqual(screen.company_id, self.other)
        self.assertIn(self.secret, screen.widget_ids.tag_id)

    def test_kiosk_screen_of_another_workcell_or_company_is_refused(self):
        rival_screen = self.env["hf.screen"]._hf_generate_for_workcenter(self.rival_press)
        saw = self.create_workcenter("Saw 4", "saw4")
        saw_screen = self.env["hf.screen"]._hf_generate_for_workcenter(saw)
        Kiosk = self.env["hf.screen.kiosk"]
        for screen in (rival_screen, saw_screen):
            with self.subTest(screen=screen.name), self.assertRaisesRegex(ValidationError, "is not a screen of"):
                Kiosk.create({"workcenter_id": self.workcenter.id, "user_id": self.operator.id, "screen_id": screen.id})
        kiosk = Kiosk.create(
            {"workcenter_id": self.workcenter.id, "user_id": self.operator.id, "screen_id": self.screen.id}
        )
        with self.assertRaisesRegex(ValidationError, "is not a screen of"):
            kiosk.write({"screen_id": rival_screen.id})
