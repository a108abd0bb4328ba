/** @odoo-module **/

import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// Kiosk: the workcell's name, the first value, then the value the test stores while the page is open;
// and the bad-input tiles each say what is wrong.
tours.add("hf_screens_kiosk_live", {
    steps: () => [
        {
            content: "The kiosk shows its workcell",
            trigger: ".o_hf_screen_title:contains('Press 1')",
        },
        { content: "First value", trigger: ".o_hf_tile_value .o_hf_value[data-value='42.5']" },
        {
            content: "A tag without data says so",
            trigger: ".o_hf_tile .o_hf_stale_badge:contains('No data yet')",
        },
        { content: "Deleted tag", trigger: ".o_hf_tile_problem:contains('no longer exists')" },
        {
            content: "Text on a gauge",
            trigger: ".o_hf_tile_gauge .o_hf_tile_problem:contains('gauge needs a number')",
        },
        {
            content: "The value stored later shows up",
            trigger: ".o_hf_tile_value .o_hf_value[data-value='57.25']",
        },
        { content: "Too hot: an alarm", trigger: ".o_hf_alarm .o_hf_alarm_ack", run: "click" },
        { trigger: ".o_hf_alarm_acked_label:contains('Acknowledged by')" },
    ],
});

tours.add("hf_screens_kiosk_workorder", {
    steps: () => [
        { trigger: ".o_hf_workorder_product:contains('Bracket')" },
        { trigger: ".o_hf_wo_start:not([disabled])", run: "click" },
        { trigger: ".o_hf_workorder_status:contains('In progress')" },
        { trigger: ".o_hf_wo_finish:not([disabled])", run: "click" },
        {
            content: "Finish asks once more",
            trigger: ".o_hf_wo_finish:contains('Tap again')",
            run: "click",
        },
        { trigger: ".o_hf_workorder_message:contains('Work order finished')" },
        { trigger: ".o_hf_workorder_none" },
    ],
});

// A large value (12,345.6 rpm) must fit its tile, whole, at the tile sizes a screen uses.
tours.add("hf_screens_kiosk_value_fits", {
    steps: () => [
        {
            content: "Every spindle-speed tile shows the whole number and its unit inside the tile",
            trigger: ".o_hf_tile_value .o_hf_value[data-value='12345.6']",
            run() {
                const tiles = [...document.querySelectorAll(".o_hf_tile_value")].filter((tile) =>
                    tile.querySelector(".o_hf_value[data-value='12345.6']"),
                );
                if (tiles.length < 3) {
                    throw new Error(`expected 3 spindle-speed tiles, found ${tiles.length}`);
                }
                for (const tile of tiles) {
                    const box = tile.getBoundingClientRect();
                    const number = tile.querySelector(".o_hf_value_number");
                    const unit = tile.querySelector(".o_hf_value_unit").getBoundingClientRect();
                    const size = parseFloat(getComputedStyle(number).fontSize);
                    const where = `${tile.querySelector(".o_hf_tile_title").textContent.trim()} (${Math.round(box.width)}×${Math.round(box.height)} px)`;
                    const numberBox = number.getBoundingClientRect();
                    if (numberBox.right > box.right || numberBox.bottom > box.bottom) {
                        throw new Error(`${where}: the number overflows the tile`);
                    }
                    if (number.scrollWidth > number.clientWidth) {
                        throw new Error(
                            `${where}: the number is cut (${number.scrollWidth} > ${number.clientWidth} px)`,
                        );
                    }
                    if (unit.right > box.right || unit.bottom > box.bottom) {
                        throw new Error(`${where}: the unit overflows the tile`);
                    }
                    if (size < 20) {
                        throw new Error(`${where}: ${size} px is too small to read at two metres`);
                    }
                }
            },
        },
        {
            content: "The shift's 12,345 good parts fit their half of the counters tile",
            trigger: ".o_hf_counter_value[data-value='12345']",
            run() {
                for (const count of document.querySelectorAll(".o_hf_counter_value")) {
                    const tile = count.closest(".o_hf_tile").getBoundingClientRect();
                    const half = count.closest(".o_hf_counter").getBoundingClientRect();
                    const range = document.createRange();
                    range.selectNodeContents(count);
                    const text = range.getBoundingClientRect();
                    if (
                        count.scrollWidth > count.clientWidth ||
                        text.right > half.right + 1 ||
                        half.right > tile.right
                    ) {
                        throw new Error(
                            `counter ${count.textContent} is cut or overflows its half of the tile`,
                        );
                    }
                }
            },
        },
    ],
});

tours.add("hf_screens_kiosk_downtime", {
    steps: () => [
        { content: "The machine is down", trigger: ".o_hf_state[data-state='down']" },
        { trigger: ".o_hf_reason[data-reason='Setup and Adjustments']", run: "click" },
        { trigger: ".o_hf_downtime_message:contains('Reason recorded')" },
        { trigger: ".o_hf_downtime_loss:contains('Setup and Adjustments')" },
    ],
});

tours.add("hf_screens_kiosk_revoked", {
    steps: () => [
        { trigger: ".o_hf_screen_title:contains('Press 1')" },
        {
            content: "Revoked while open: a clear message, no traceback",
            trigger: ".o_hf_refused:contains('revoked')",
        },
    ],
});

// Backend: an operator opens the screen from the workcell and starts the work order; the screen's form is read-only.
tours.add("hf_screens_operator_backend", {
    steps: () => [
        { trigger: ".o_form_view .o_field_widget[name='name']:contains('Press 1')" },
        {
            content: "An operator cannot edit the screen: its fields are read-only",
            trigger: ".o_form_view .o_field_widget[name='name']:not(:has(input))",
        },
        { trigger: "button[name='action_open']", run: "click" },
        { trigger: ".o_hf_screen_title:contains('Press 1')" },
        { trigger: ".o_hf_wo_start:not([disabled])", run: "click" },
        { trigger: ".o_hf_workorder_status:contains('In progress')" },
    ],
});

// The network drops for a few seconds: the kiosk says so, keeps retrying, and comes back by itself.
tours.add("hf_screens_kiosk_reconnect", {
    steps: () => [
        { trigger: ".o_hf_tile_value .o_hf_value[data-value='42.5']" },
        {
            content: "Cut the network: every request fails as a dropped connection would",
            trigger: ".o_hf_screen:not(.o_hf_offline)",
            run() {
                const send = XMLHttpRequest.prototype.send;
                window.__hfRestoreNetwork = () => (XMLHttpRequest.prototype.send = send);
                XMLHttpRequest.prototype.send = function () {
                    setTimeout(() => this.dispatchEvent(new ProgressEvent("error")), 10);
                };
            },
        },
        { content: "The screen says the connection is lost", trigger: ".o_hf_connection_lost" },
        { content: "Values are marked stale meanwhile", trigger: ".o_hf_tile_value.o_hf_stale" },
        {
            content: "The network comes back",
            trigger: ".o_hf_connection_lost",
            run() {
                window.__hfRestoreNetwork();
            },
        },
        {
            content: "Recovered without a reload",
            trigger: ".o_hf_screen:not(.o_hf_offline) .o_hf_tile_value:not(.o_hf_stale)",
        },
    ],
});

// Engineer: the designer's Preview tab shows the saved screen live, and an edit turns it into the layout grid.
tours.add("hf_screens_engineer_preview", {
    steps: () => [
        { trigger: ".o_form_view .o_field_widget[name='name'] input" },
        { trigger: ".o_notebook a:contains('Preview')", run: "click" },
        {
            content: "Live preview of the saved screen",
            trigger: ".o_hf_preview_live .o_hf_screen_title:contains('Press 1')",
        },
        { trigger: ".o_hf_preview_live .o_hf_tile_value .o_hf_value[data-value='42.5']" },
        { trigger: ".o_field_widget[name='theme'] input[data-value='light']", run: "click" },
        {
            content: "Unsaved: the layout grid",
            trigger: ".o_hf_layout_preview.o_hf_theme_light .o_hf_cell",
        },
        { trigger: ".o_form_button_save", run: "click" },
        {
            content: "Saved: live again, in the light theme",
            trigger: ".o_hf_preview_live .o_hf_screen.o_hf_theme_light",
        },
    ],
});

// The kiosk of a workcell as `make demo` leaves it (hf.screen.demo): the order started at the kiosk is
// running, the machine has counted its parts, and the shift has an OEE (A × P × Q).
tours.add("hf_screens_kiosk_demo_production", {
    steps: () => [
        {
            content: "The demo's order",
            trigger: ".o_hf_workorder_product:contains('Mounting bracket')",
        },
        {
            content: "Running on the machine",
            trigger: ".o_hf_workorder_status.o_hf_wo_running:contains('In progress')",
        },
        { content: "Parts the machine counted for it", trigger: ".o_hf_qty_done[data-value='2']" },
        { trigger: ".o_hf_qty_counted_label:contains('counted by the machine')" },
        { trigger: ".o_hf_qty_planned:contains('120')" },
        {
            content: "The shift's OEE",
            trigger: ".o_hf_oee_main:not([data-value='']):contains('55 %')",
        },
        { trigger: ".o_hf_oee_factor[title='availability'] .o_hf_oee_pct:contains('90 %')" },
        { trigger: ".o_hf_oee_factor[title='performance'] .o_hf_oee_pct:contains('64.4 %')" },
        { trigger: ".o_hf_oee_factor[title='quality'] .o_hf_oee_pct:contains('94.8 %')" },
    ],
});
