import { formatDate } from "@web/core/l10n/dates";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { openDunningEntry, openDunningRoot, openInvoicing } from "@dunning_ruler/tests/tours/dunning_tour_steps";

const { DateTime } = luxon;
const tours = registry.category("web_tour.tours");

tours.add("dunning_dashboard_empty_tour", {
    steps: () => [
        ...openDunningEntry("dunning_ruler.menu_dunning_dashboard", "Open the dashboard"),
        {
            content: "Nothing to do today: the helper says so (no empty columns)",
            trigger: ".o_kanban_view:not(:has(.o_kanban_group)) .o_view_nocontent:contains('Nothing to do today')",
        },
    ],
});

tours.add("dunning_menu_once_tour", {
    steps: () => [
        ...openInvoicing,
        openDunningRoot,
        {
            content: "Each entry of the Dunning menu has its own name",
            trigger: ".o-dropdown--menu [data-menu-xmlid='dunning_ruler.menu_dunning_reasons_report']",
            run() {
                const names = [...document.querySelectorAll(".o-dropdown--menu [data-menu-xmlid]")].map(
                    (el) => el.textContent.trim()
                );
                const reasons = names.filter((name) => name === "Non-payment Reasons");
                if (reasons.length !== 1 || new Set(names).size !== names.length) {
                    throw new Error(`Menu entries named twice: ${names.join(" | ")}`);
                }
            },
        },
    ],
});

function checkPickerCoversNoResult() {
    const picker = document.querySelector(".o_datetime_picker").getBoundingClientRect();
    for (const el of document.querySelectorAll(".modal .o_field_widget[name=line_ids], .modal .o_data_row")) {
        const r = el.getBoundingClientRect();
        const overlaps =
            r.width && r.height &&
            r.left < picker.right && picker.left < r.right && r.top < picker.bottom && picker.top < r.bottom;
        if (overlaps) {
            throw new Error("The date picker covers the preview's results");
        }
    }
}

tours.add("dunning_preview_date_tour", {
    steps: () => [
        ...openDunningEntry("dunning_ruler.menu_dunning_preview", "Open the preview"),
        {
            content: "Compute today's dry run",
            trigger: ".modal button[name=action_compute]:contains('Preview')",
            run: "click",
        },
        {
            content: "Results of today: the date is read-only while they are shown, run offered",
            trigger:
                ".modal:has(.o_data_row:contains('Tour Customer')):has(.o_field_widget[name=as_of].o_readonly_modifier) " +
                ".modal-footer button[name=action_run_selection]",
        },
        {
            content: "Change the date",
            trigger: ".modal-footer button[name=action_change_date]",
            run: "click",
        },
        {
            content: "Open the date picker",
            trigger: ".modal:not(:has(.o_data_row)) .o_field_widget[name=as_of] input",
            run: "click",
        },
        {
            content: "The picker covers no result",
            trigger: ".o_datetime_picker",
            run: checkPickerCoversNoResult,
        },
        {
            content: "A future date",
            trigger: ".modal .o_field_widget[name=as_of] input",
            run: "edit 12/31/2099",
        },
        {
            content: "Close the picker",
            trigger: ".modal .modal-title",
            run: "click",
        },
        {
            content: "Preview only, said before computing",
            trigger: ".modal .o_dunning_preview_future",
        },
        {
            content: "Compute the future dry run",
            trigger: ".modal button[name=action_compute]:contains('Preview')",
            run: "click",
        },
        {
            content: "Future results are shown, without “Run for selection”",
            trigger:
                ".modal:has(.o_data_row:contains('Tour Customer')) " +
                ".modal-footer:has(button[name=action_change_date]):not(:has(button[name=action_run_selection]))",
        },
        {
            content: "Change the date again",
            trigger: ".modal-footer button[name=action_change_date]",
            run: "click",
        },
        {
            content: "Back to today",
            trigger: ".modal:not(:has(.o_data_row)) .o_field_widget[name=as_of] input",
            run: `edit ${formatDate(DateTime.now())}`,
        },
        {
            content: "Close the picker",
            trigger: ".modal .modal-title",
            run: "click",
        },
        {
            content: "Compute again",
            trigger: ".modal:not(:has(.o_dunning_preview_future)) button[name=action_compute]:contains('Preview')",
            run: "click",
        },
        {
            content: "Today's results can be run",
            trigger: ".modal:has(.o_data_row) .modal-footer button[name=action_run_selection]",
        },
    ],
});

async function addCronProgress(done, remaining) {
    const call = (model, method, args, kwargs = {}) =>
        rpc(`/web/dataset/call_kw/${model}/${method}`, { model, method, args, kwargs });
    const [status] = await call("dunning.run.status", "search_read", [[]], {
        fields: ["cron_id"],
        order: "id desc",
        limit: 1,
    });
    const cronId = Array.isArray(status.cron_id) ? status.cron_id[0] : status.cron_id.id;
    await call("ir.cron.progress", "create", [[{ cron_id: cronId, done, remaining }]]);
}

tours.add("dunning_run_status_refresh_tour", {
    steps: () => [
        ...openDunningEntry("dunning_ruler.menu_dunning_run", "Run dunning now"),
        {
            content: "The run is queued; the window updates by itself",
            trigger:
                ".modal:has(.o_field_widget[name=state]:contains('Queued')) .o_dunning_run_autorefresh[data-refreshing='1']",
        },
        {
            content: "The scheduled action makes progress (another worker)",
            trigger: ".modal .o_field_widget[name=state]",
            run: () => addCronProgress(30, 10),
        },
        {
            content: "Progress shown without clicking Refresh",
            trigger:
                ".modal:has(.o_field_widget[name=done]:contains('30')) .o_field_widget[name=state]:contains('Running')",
        },
        {
            content: "The run finishes",
            trigger: ".modal .o_field_widget[name=state]",
            run: () => addCronProgress(40, 0),
        },
        {
            content: "Finished shown by itself, and the updates stop",
            trigger:
                ".modal:has(.o_field_widget[name=state]:contains('Finished')) .o_dunning_run_autorefresh[data-refreshing='0']:not(:visible)",
        },
    ],
});

// Manual "send next level" from a customer: the wizard lists the invoices it includes
// and warns of what changes what will happen (here: an invoice in dispute left out).
tours.add("dunning_manual_next_level_tour", {
    steps: () => [
        {
            content: "Open the customer's actions",
            trigger: ".o_form_view .o_cp_action_menus button",
            run: "click",
        },
        {
            content: "Send / skip next dunning level",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Send / skip next dunning level')",
            run: "click",
        },
        {
            content: "The wizard lists the one invoice it includes, with its real situation",
            trigger:
                ".modal .o_field_widget[name=summary]:contains('for 1 invoice(s)'):contains('5 day(s) overdue')",
        },
        {
            content: "A warning says the dispute changes what will happen",
            trigger: ".modal .o_dunning_manual_warnings:contains('is in dispute: not included')",
        },
        {
            content: "Send now",
            trigger: ".modal footer button[name=action_send]",
            run: "click",
        },
        {
            content: "The wizard closes",
            trigger: "body:not(:has(.modal .o_field_widget[name=summary]))",
        },
    ],
});
