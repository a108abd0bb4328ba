/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { formatDuration } from "@hf_screens/screen/live";

/** The frame of every tile: title, stale / no-data / problem markers, and the tile's body in the slot. */
export class HfTile extends Component {
    static template = "hf_screens.HfTile";
    static props = {
        title: String,
        kind: String,
        problem: { type: String, optional: true },
        stale: { type: Boolean, optional: true },
        age: { type: [Number, { value: null }], optional: true },
        noData: { type: Boolean, optional: true },
        alert: { type: String, optional: true },
        slots: { type: Object, optional: true },
    };

    get staleLabel() {
        if (this.props.noData) {
            return _t("No data yet");
        }
        const age = this.props.age;
        return age === null || age === undefined
            ? _t("Stale")
            : _t("Stale · %s ago", formatDuration(age));
    }
}
