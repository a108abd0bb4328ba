/** @odoo-module **/
// The customer's whole journey (issue 17), in three visits: sign up with a device and its tags; follow the
// mailed link, confirm and pay the plan with Odoo's demo provider; follow the "ready" mail's link to the
// portal, choose a password and land on the instance page. The simulator's Modbus port comes in the URL.
import { registry } from "@web/core/registry";

const modbusPort = () => new URLSearchParams(window.location.search).get("modbus_port");

registry.category("web_tour.tours").add("hf_cloud_journey_signup", {
    steps: () => [
        { trigger: "input[name=company_name]", run: "edit Journey Works" },
        { trigger: "input[name=contact_name]", run: "edit Jo Journey" },
        { trigger: "input[name=email]", run: "edit jo@journey-works.example" },
        { trigger: ".o_hf_next", run: "click" },
        { trigger: "input[name=site_name]:visible", run: "edit Graz" },
        { trigger: "input[name=area_0]", run: "edit Press shop" },
        { trigger: "input[name=line_0]", run: "edit Line 1" },
        { trigger: "input[name=workcenters_0]", run: "edit Cell 1" },
        { trigger: ".o_hf_next", run: "click" },
        { trigger: "input[name=device_name_0]:visible", run: "edit press1-modbus" },
        { trigger: "select[name=device_protocol_0]", run: "select modbus" },
        { trigger: "input[name=device_ip_0]", run: "edit 127.0.0.1" },
        { trigger: "input[name=device_port_0]", run: (helpers) => helpers.edit(modbusPort()) },
        { trigger: "input[name=device_workcenter_0]", run: "edit Cell 1" },
        {
            trigger: "textarea[name=device_tags_0]",
            run: (helpers) =>
                helpers.edit(
                    "name,data_type,modbus_table,modbus_address,modbus_type\n" +
                        "temperature,float,holding,0,float32\nspindle_speed,float,holding,2,float32",
                ),
        },
        { trigger: ".o_hf_next", run: "click" },
        { trigger: "input[name=plan]:visible:first", run: "click" },
        { trigger: ".o_hf_next", run: "click" },
        { trigger: ".o_hf_summary:contains(Journey Works):contains(press1-modbus)" },
        { trigger: ".o_hf_submit", run: "click" },
        { trigger: ".o_hf_confirm_pending", content: "check your mailbox" },
    ],
});

registry.category("web_tour.tours").add("hf_cloud_journey_pay", {
    steps: () => [
        { trigger: ".o_hf_confirm_button", run: "click" },
        { trigger: "#introduction h2:contains(Quotation)", content: "the plan's order, to pay" },
        { trigger: "#o_sale_portal_paynow", run: "click" },
        { trigger: "#modalaccept input#customer_input:visible", run: "edit 4242424242424242" },
        {
            trigger: "#modalaccept button[name=o_payment_submit_button]:not(:disabled)",
            run: "click",
        },
        {
            trigger: "#introduction h2:contains(Sales Order)",
            content: "paid: the order is confirmed",
            timeout: 60000,
        },
    ],
});

registry.category("web_tour.tours").add("hf_cloud_journey_portal", {
    steps: () => [
        { trigger: "input[name=password]", run: "edit journey-Portal-pw-1" },
        { trigger: "input[name=confirm_password]", run: "edit journey-Portal-pw-1" },
        {
            trigger:
                "form.oe_signup_form button[type=submit], form.oe_reset_password_form button[type=submit]",
            run: "click",
        },
        {
            trigger: ".o_hf_usage",
            content: "the instance page: usage against quotas",
            timeout: 30000,
        },
        { trigger: "a.o_hf_bundle", content: "the edge bundle to download" },
    ],
});
