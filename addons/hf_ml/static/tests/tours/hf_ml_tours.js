/** @odoo-module **/

import { registry } from "@web/core/registry";

/** Chart.js drew this canvas, with as many points as the server's configuration holds. */
function assertDrawn(canvas, kind) {
    const chart = window.Chart && window.Chart.getChart(canvas);
    if (!chart) {
        throw new Error(`the ${kind} chart was not drawn`);
    }
    const points = chart.data.datasets.reduce((sum, dataset) => sum + dataset.data.length, 0);
    if (!points || canvas.width === 0) {
        throw new Error(`the ${kind} chart is empty (${points} points, ${canvas.width} px wide)`);
    }
}

// An engineer opens a trained job: the score over time and the feature importance are drawn.
registry.category("web_tour.tours").add("hf_ml_job_charts", {
    steps: () => [
        {
            content: "The job is trained",
            trigger: ".o_field_widget[name='state'] .o_arrow_button_current:contains('Trained')",
        },
        {
            content: "Score over time, with the threshold",
            trigger: ".o_field_widget[name='chart_scores'] .o_hf_ml_chart canvas",
            run() {
                assertDrawn(this.anchor, "score");
            },
        },
        {
            content: "Feature importance",
            trigger: ".o_field_widget[name='chart_importance'] .o_hf_ml_chart canvas",
            run() {
                assertDrawn(this.anchor, "importance");
            },
        },
    ],
});

// A job never trained says so instead of an empty frame.
registry.category("web_tour.tours").add("hf_ml_job_untrained", {
    steps: () => [
        { trigger: ".o_field_widget[name='chart_scores'] .o_hf_ml_chart:contains('No plot yet')" },
    ],
});
