/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatNumber, isStale, liveAge, tileProps } from "@hf_screens/screen/live";

/** A model's score (a derived tag that hf_ml writes): a bar that turns red above the tile's threshold. */
export class HfMlScore extends Component {
    static template = "hf_screens.HfMlScore";
    static components = { HfTile };
    static props = tileProps;

    get entry() {
        return this.props.value;
    }
    get score() {
        const value = this.entry?.value;
        return typeof value === "number" ? value : null;
    }
    get problem() {
        const value = this.entry?.value;
        if (this.props.widget.problem) {
            return this.props.widget.problem;
        }
        if (value !== null && value !== undefined && typeof value !== "number") {
            return _t("The score tag sends text; an ML score is a number.");
        }
        return "";
    }
    get scale() {
        return Math.max(1, this.props.widget.max || 1);
    }
    get width() {
        return this.score === null
            ? 0
            : Math.max(0, Math.min(100, (this.score / this.scale) * 100));
    }
    get alarm() {
        return this.score !== null && this.score >= this.props.widget.threshold;
    }
    get text() {
        return this.score === null
            ? "—"
            : formatNumber(this.score, Math.max(2, this.props.widget.decimals));
    }
    get stale() {
        return isStale(this.entry, this.props.elapsed, this.props.offline);
    }
    get age() {
        return liveAge(this.entry, this.props.elapsed);
    }
}

registry.category("hf_screens.tiles").add("ml_score", HfMlScore);
