// ESLint for the addons' JavaScript (OWL components, kiosk, tours): Odoo 18's own rules and Prettier
// settings (odoo/addons/web/tooling/_eslintrc.json), in ESLint 9's flat config. `make lint` runs it.
"use strict";
const js = require("@eslint/js");
const globals = require("globals");
const prettier = require("eslint-plugin-prettier/recommended");

module.exports = [
    { ignores: ["**/static/lib/**", "node_modules/**", ".venv/**", "var/**"] },
    js.configs.recommended,
    prettier,
    {
        files: ["addons/**/*.js"],
        languageOptions: {
            ecmaVersion: 2022,
            sourceType: "module",
            globals: { ...globals.browser, odoo: "readonly", luxon: "readonly", Chart: "readonly" },
        },
        rules: {
            "prettier/prettier": "error", // Odoo's settings, in .prettierrc.json
            "no-undef": "error",
            "no-restricted-globals": ["error", "event", "self"],
            "no-const-assign": "error",
            "no-debugger": "error",
            "no-dupe-class-members": "error",
            "no-dupe-keys": "error",
            "no-dupe-args": "error",
            "no-dupe-else-if": "error",
            "no-unsafe-negation": "error",
            "no-duplicate-imports": "error",
            "valid-typeof": "error",
            "no-unused-vars": [
                "error",
                { vars: "all", args: "none", ignoreRestSiblings: false, caughtErrors: "all" },
            ],
            curly: ["error", "all"],
            "no-restricted-syntax": ["error", "PrivateIdentifier"],
            "prefer-const": ["error", { destructuring: "all", ignoreReadBeforeAssign: true }],
        },
    },
    {
        files: ["eslint.config.js"],
        languageOptions: { sourceType: "commonjs", globals: globals.node },
    },
];
