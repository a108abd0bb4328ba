/** @odoo-module **/

import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatNumber, tileProps } from "@hf_screens/screen/live";

/**
 * The workcell's current work order: product, quantities, and Odoo's own start / pause / finish / scrap,
 * so MRP stays the truth. Errors from MRP (already finished, workcell blocked…) are shown in the panel.
 */
export class HfWorkorderPanel extends Component {
    static template = "hf_screens.HfWorkorderPanel";
    static components = { HfTile };
    static props = tileProps;

    setup() {
        this.state = useState({
            busy: false,
            message: "",
            messageType: "",
            scrapQty: 1,
            confirmFinish: false,
        });
    }

    get workorder() {
        return this.props.data.workorder?.current || null;
    }
    get queue() {
        return this.props.data.workorder?.queue || [];
    }
    get statusLabel() {
        const wo = this.workorder;
        if (!wo) {
            return "";
        }
        if (wo.state === "progress") {
            return wo.running ? _t("In progress") : _t("Paused");
        }
        return wo.state_label;
    }
    /** The machine counts the order's good parts while its time is booked to the order (null: no counter). */
    get counted() {
        const wo = this.workorder;
        return Boolean(wo) && typeof wo.qty_counted === "number" && !wo.qty_done;
    }
    get produced() {
        return this.counted ? this.workorder.qty_counted : this.workorder?.qty_done || 0;
    }
    number(value) {
        return formatNumber(value || 0, 2);
    }

    async run(action, params = {}) {
        if (this.state.busy || !this.workorder) {
            return;
        }
        this.state.busy = true;
        this.state.message = "";
        try {
            const result = await this.props.api.action(action, {
                workorder_id: this.workorder.id,
                ...params,
            });
            if (result.ok) {
                const done = {
                    start: _t("Work order started."),
                    pause: _t("Work order paused."),
                    finish: _t("Work order finished."),
                    scrap: _t("Scrap recorded."),
                };
                this.state.message = done[action];
                this.state.messageType = "success";
            } else {
                this.state.message = result.message;
                this.state.messageType = "danger";
            }
        } catch {
            this.state.message = _t("The server did not answer: check the network and try again.");
            this.state.messageType = "danger";
        } finally {
            this.state.busy = false;
            this.state.confirmFinish = false;
        }
    }
    start() {
        return this.run("start");
    }
    pause() {
        return this.run("pause");
    }
    finish() {
        if (!this.state.confirmFinish) {
            this.state.confirmFinish = true;
            return;
        }
        return this.run("finish");
    }
    scrap() {
        return this.run("scrap", { qty: this.state.scrapQty });
    }
    changeScrap(delta) {
        this.state.scrapQty = Math.max(1, (Number(this.state.scrapQty) || 0) + delta);
    }
}

registry.category("hf_screens.tiles").add("workorder", HfWorkorderPanel);
