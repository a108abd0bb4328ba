/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatDuration, isStale, liveAge, tileProps } from "@hf_screens/screen/live";

const LABELS = {
    running: _t("Running"),
    idle: _t("Idle"),
    down: _t("Down"),
    unknown: _t("Unknown state"),
};

/** The machine's state as a big lamp, with the time spent in it. */
export class HfStateLamp extends Component {
    static template = "hf_screens.HfStateLamp";
    static components = { HfTile };
    static props = tileProps;

    get entry() {
        return this.props.value;
    }
    get machine() {
        return this.props.data.state || {};
    }
    get stateKey() {
        return this.machine.state || "unknown";
    }
    get label() {
        return LABELS[this.stateKey] || this.stateKey;
    }
    get timeInState() {
        if (!this.machine.since) {
            return "";
        }
        const serverNow = Date.parse(this.props.data.server_time) + this.props.elapsed * 1000;
        return formatDuration((serverNow - Date.parse(this.machine.since)) / 1000);
    }
    get stale() {
        return isStale(this.entry, this.props.elapsed, this.props.offline);
    }
    get age() {
        return liveAge(this.entry, this.props.elapsed);
    }
}

registry.category("hf_screens.tiles").add("state", HfStateLamp);
