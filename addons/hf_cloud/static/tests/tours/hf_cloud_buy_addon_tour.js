/** @odoo-module **/
// A customer on the instance page buys "+10 GB storage" and pays with Odoo's demo payment provider.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("hf_cloud_buy_addon", {
    steps: () => [
        { trigger: ".o_hf_usage", content: "usage against quotas" },
        { trigger: ".o_hf_addon[data-addon='+10 GB storage'] .o_hf_buy", run: "click" },
        { trigger: "#introduction h2:contains(Quotation)", content: "the order to pay" },
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
