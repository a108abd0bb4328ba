/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatNumber, isStale, liveAge, tileProps } from "@hf_screens/screen/live";

/** Good and scrap parts of the current shift (from the machine's counters), with the raw counter values. */
export class HfCounters extends Component {
    static template = "hf_screens.HfCounters";
    static components = { HfTile };
    static props = tileProps;

    entryFor(role) {
        const values = this.props.data.values;
        const bound = this.props.widget.tag_ids
            .map((id) => values[id])
            .find((v) => v && v.role === role);
        return bound || values[this.props.data.roles[role]];
    }
    get good() {
        return this.entryFor("good_count");
    }
    get scrap() {
        return this.entryFor("scrap_count");
    }
    get shift() {
        return this.props.data.oee || {};
    }
    number(value) {
        return value === null || value === undefined ? "—" : formatNumber(value, 0);
    }
    /** The longer count's characters, so both counts fit their half of the tile (see counters.scss). */
    get fitStyle() {
        const chars = Math.max(
            this.number(this.shift.good).length,
            this.number(this.shift.scrap).length,
        );
        return `--hf-value-chars: ${Math.max(1, chars)};`;
    }
    get problem() {
        return !this.good && !this.scrap
            ? _t(
                  "No good-part or scrap counter on this workcell: give one of its tags the role 'Good-part counter'.",
              )
            : "";
    }
    get stale() {
        const entries = [this.good, this.scrap].filter(Boolean);
        return entries.some((e) => isStale(e, this.props.elapsed, this.props.offline));
    }
    get age() {
        return liveAge(this.good || this.scrap, this.props.elapsed);
    }
}

registry.category("hf_screens.tiles").add("counters", HfCounters);
