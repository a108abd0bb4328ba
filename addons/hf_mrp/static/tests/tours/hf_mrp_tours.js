/** @odoo-module **/

import { registry } from "@web/core/registry";

// Kiosk: an order whose quantity is made is proposed for finishing; finishing it follows Odoo's flow.
registry.category("web_tour.tours").add("hf_mrp_kiosk_propose_finish", {
    steps: () => [
        { trigger: ".o_hf_workorder_product:contains('Bracket')" },
        {
            content: "The quantity is made: the kiosk says so",
            trigger: ".o_hf_workorder_propose_finish",
        },
        { trigger: ".o_hf_wo_finish:not([disabled])", run: "click" },
        { trigger: ".o_hf_wo_finish:contains('Tap again')", run: "click" },
        { trigger: ".o_hf_workorder_message:contains('Work order finished')" },
    ],
});
