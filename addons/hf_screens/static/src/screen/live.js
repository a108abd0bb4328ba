/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";

/** Shape of one tag's live value as the server sends it (see hf.screen._hf_values). */
export const liveValueShape = {
    type: Object,
    optional: true,
    shape: {
        id: Number,
        name: String,
        unit: String,
        data_type: String,
        role: String,
        limit_low: Number,
        limit_high: Number,
        stale_after: Number,
        value: { optional: true },
        time: { type: [String, { value: null }], optional: true },
        age: { type: [Number, { value: null }], optional: true },
        quality: { type: [Number, { value: null }], optional: true },
        stale: Boolean,
    },
};

/** Props every tile receives from the screen. */
export const tileProps = {
    widget: {
        type: Object,
        shape: {
            id: Number,
            kind: String,
            title: String,
            x: Number,
            y: Number,
            w: Number,
            h: Number,
            tag_id: [Number, Boolean],
            tag_ids: Array,
            decimals: Number,
            min: Number,
            max: Number,
            trend_minutes: Number,
            threshold: Number,
            problem: String,
        },
    },
    value: liveValueShape,
    data: Object,
    api: Object,
    offline: Boolean,
    elapsed: Number,
};

/** Seconds since the sample, counting the time since the last successful poll. */
export function liveAge(entry, elapsed) {
    if (!entry || entry.age === null || entry.age === undefined) {
        return null;
    }
    return entry.age + (elapsed || 0);
}

export function isStale(entry, elapsed, offline) {
    if (!entry || entry.time === null) {
        return true;
    }
    return offline || entry.stale || liveAge(entry, elapsed) > entry.stale_after;
}

export function formatNumber(value, decimals = 1) {
    if (typeof value !== "number" || Number.isNaN(value)) {
        return String(value);
    }
    return value.toLocaleString(undefined, {
        minimumFractionDigits: Number.isInteger(value) ? 0 : decimals,
        maximumFractionDigits: decimals,
    });
}

export function formatValue(entry, decimals) {
    if (!entry || entry.value === null || entry.value === undefined) {
        return "—";
    }
    if (typeof entry.value === "boolean") {
        return entry.value ? _t("On") : _t("Off");
    }
    return formatNumber(entry.value, decimals);
}

export function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
        return "";
    }
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    if (h) {
        return `${h} h ${String(m).padStart(2, "0")} min`;
    }
    if (m) {
        return `${m} min ${String(s).padStart(2, "0")} s`;
    }
    return `${s} s`;
}

export function percent(value) {
    return value === null || value === undefined ? "—" : `${Math.round(value * 1000) / 10} %`;
}
