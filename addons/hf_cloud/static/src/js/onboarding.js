/** @odoo-module **/
// The onboarding form works without JavaScript (all steps shown, validated on the server); this
// widget turns it into steps with Back/Next, adds device and layout rows, and fills the summary.
// Everything a visitor typed is written with textContent, never as HTML.
import publicWidget from "@web/legacy/js/public/public_widget";

publicWidget.registry.HfCloudOnboarding = publicWidget.Widget.extend({
    selector: ".o_hf_onboarding_form",
    events: {
        "click .o_hf_next": "_onNext",
        "click .o_hf_back": "_onBack",
        "click .o_hf_add_device_row": "_onAddDevice",
        "change .o_hf_device_tags_file": "_onTagFile",
        "click .o_hf_add_layout_row": "_onAddLayout",
        "click .o_hf_steps li": "_onStepClick",
    },

    start() {
        this.steps = [...this.el.querySelectorAll(".o_hf_step")];
        this.el.querySelector(".o_hf_nav").classList.remove("d-none");
        this.el
            .querySelectorAll(".o_hf_add_device_row, .o_hf_add_layout_row")
            .forEach((b) => b.classList.remove("d-none"));
        this._show(parseInt(this.el.dataset.firstStep || "1", 10));
        return this._super(...arguments);
    },

    _show(step) {
        this.current = Math.min(Math.max(step, 1), this.steps.length);
        for (const fieldset of this.steps) {
            fieldset.classList.toggle(
                "d-none",
                parseInt(fieldset.dataset.step, 10) !== this.current,
            );
        }
        for (const li of this.el.querySelectorAll(".o_hf_steps li")) {
            li.classList.toggle("fw-bold", parseInt(li.dataset.step, 10) === this.current);
        }
        this.el.querySelector(".o_hf_back").classList.toggle("invisible", this.current === 1);
        this.el
            .querySelector(".o_hf_next")
            .classList.toggle("d-none", this.current === this.steps.length);
        if (this.current === this.steps.length) {
            this._fillSummary();
        }
        this.el.scrollIntoView({ block: "start" });
    },

    _onNext() {
        this._show(this.current + 1);
    },
    _onBack() {
        this._show(this.current - 1);
    },
    _onStepClick(ev) {
        this._show(parseInt(ev.currentTarget.dataset.step, 10));
    },

    _cloneRow(containerSelector, rowSelector) {
        const container = this.el.querySelector(containerSelector);
        const rows = container.querySelectorAll(rowSelector);
        const last = rows[rows.length - 1];
        // the next free row number, read off the field names (row_<n>) of the rows already there
        const numbers = [...container.querySelectorAll("input[name], select[name]")]
            .map((el) => parseInt((el.getAttribute("name").match(/_(\d+)$/) || [])[1], 10))
            .filter((n) => !Number.isNaN(n));
        const next = Math.max(-1, ...numbers) + 1;
        const clone = last.cloneNode(true);
        clone.dataset.row = String(next);
        clone.querySelectorAll(".o_hf_error").forEach((e) => e.remove());
        clone.querySelectorAll("input, select, textarea, label").forEach((el) => {
            for (const attr of ["name", "id", "for"]) {
                const value = el.getAttribute(attr);
                if (value) {
                    el.setAttribute(attr, value.replace(/_\d+$/, `_${next}`));
                }
            }
            el.classList.remove("is-invalid");
            if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") {
                el.value = "";
            }
        });
        container.appendChild(clone);
        clone.querySelector("input").focus();
    },
    _onAddDevice() {
        this._cloneRow(".o_hf_device_rows", ".o_hf_device_row");
    },
    async _onTagFile(ev) {
        // a CSV file is read here into its row's text field: the server validates one thing, the text
        const file = ev.target.files[0];
        if (file) {
            ev.target.closest(".o_hf_device_row").querySelector(".o_hf_device_tags").value =
                await file.text();
        }
    },
    _onAddLayout() {
        this._cloneRow(".o_hf_layout_rows", ".o_hf_layout_row");
    },

    _fillSummary() {
        const dl = this.el.querySelector(".o_hf_summary");
        dl.replaceChildren();
        const add = (label, value) => {
            const dt = document.createElement("dt");
            dt.className = "col-4";
            dt.textContent = label;
            const dd = document.createElement("dd");
            dd.className = "col-8";
            dd.textContent = value || "—";
            dl.append(dt, dd);
        };
        const val = (name) => (this.el.querySelector(`[name="${name}"]`) || {}).value || "";
        add("Company", val("company_name"));
        add("Contact", `${val("contact_name")} <${val("email")}>`);
        add("Site", val("site_name"));
        const lines = [...this.el.querySelectorAll(".o_hf_layout_row")]
            .map((r) => [...r.querySelectorAll("input")].map((i) => i.value.trim()))
            .filter((v) => v.some(Boolean))
            .map(([area, line, wcs]) => `${area} / ${line}: ${wcs}`);
        add("Lines", lines.join("; "));
        const devices = [...this.el.querySelectorAll(".o_hf_device_row")]
            .map((r) => (r.querySelector('input[name^="device_name_"]') || {}).value)
            .filter(Boolean);
        add("Devices", `${devices.length}: ${devices.join(", ")}`);
        const plan = this.el.querySelector('input[name="plan"]:checked');
        add("Plan", plan ? plan.dataset.planName : "");
    },
});

export default publicWidget.registry.HfCloudOnboarding;
