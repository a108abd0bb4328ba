/** @odoo-module **/

import { Component, onMounted, onPatched, onWillStart, onWillUnmount, useRef } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/** A Chart.js chart whose configuration the server computed (a model version's plots), read-only. */
export class HfMlChart extends Component {
    static template = "hf_ml.HfMlChart";
    static props = { ...standardFieldProps };

    setup() {
        this.canvasRef = useRef("canvas");
        this.chart = null;
        onWillStart(() => loadBundle("web.chartjs_lib"));
        onMounted(() => this.draw());
        onPatched(() => this.draw());
        onWillUnmount(() => this.chart?.destroy());
    }

    get config() {
        return this.props.record.data[this.props.name] || null;
    }

    draw() {
        this.chart?.destroy();
        this.chart = null;
        if (this.config && this.canvasRef.el) {
            // Chart.js mutates its configuration: give it a copy, not the record's value
            this.chart = new Chart(this.canvasRef.el, JSON.parse(JSON.stringify(this.config)));
        }
    }
}

registry.category("fields").add("hf_ml_chart", { component: HfMlChart, supportedTypes: ["json"] });
