/** @odoo-module **/

import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatDuration, tileProps } from "@hf_screens/screen/live";

/**
 * Why is the machine not producing? The reason is written on the open mrp.workcenter.productivity record
 * (the one the machine state opened, or a new one on a workcell without a state tag).
 */
export class HfDowntimePicker extends Component {
    static template = "hf_screens.HfDowntimePicker";
    static components = { HfTile };
    static props = tileProps;

    setup() {
        this.state = useState({ busy: false, message: "", messageType: "" });
    }

    get downtime() {
        return this.props.data.downtime || { reasons: [], current: false };
    }
    get current() {
        return this.downtime.current;
    }
    get stopped() {
        const current = this.current;
        return current && current.loss_type !== "productive";
    }
    get since() {
        if (!this.current?.since) {
            return "";
        }
        const serverNow = Date.parse(this.props.data.server_time) + this.props.elapsed * 1000;
        return formatDuration((serverNow - Date.parse(this.current.since)) / 1000);
    }
    get canResume() {
        return this.current && this.current.source === "operator";
    }

    async send(action, params) {
        if (this.state.busy) {
            return;
        }
        this.state.busy = true;
        try {
            const result = await this.props.api.action(action, params);
            this.state.message = result.ok
                ? action === "resume"
                    ? _t("Downtime ended.")
                    : _t("Reason recorded.")
                : result.message;
            this.state.messageType = result.ok ? "success" : "danger";
        } catch {
            this.state.message = _t("The server did not answer: check the network and try again.");
            this.state.messageType = "danger";
        } finally {
            this.state.busy = false;
        }
    }
    pick(reason) {
        return this.send("reason", { loss_id: reason.id });
    }
    resume() {
        return this.send("resume", {});
    }
}

registry.category("hf_screens.tiles").add("downtime", HfDowntimePicker);
