import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";
import { openDunningMenu, openInvoicing } from "@dunning_ruler/tests/tours/dunning_tour_steps";

const tours = registry.category("web_tour.tours");

tours.add("dunning_ruler_configure_tour", {
    steps: () => [
        {
            content: "Create a ruler",
            trigger: ".o_control_panel_main_buttons .o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_field_widget[name=name] input",
            run: "edit Tour ruler",
        },
        {
            content: "Add a level",
            trigger: ".o_field_widget[name=level_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "Level offset",
            trigger: ".o_field_widget[name=level_ids] .o_selected_row .o_field_widget[name=offset_days] input",
            run: "edit 5",
        },
        {
            content: "Level name",
            trigger: ".o_field_widget[name=level_ids] .o_selected_row .o_field_widget[name=name] input",
            run: "edit Tour letter level",
        },
        {
            content: "The level sends a letter",
            trigger: ".o_field_widget[name=level_ids] .o_selected_row .o_field_widget[name=send_letter] input",
            run: "click",
        },
        ...stepUtils.saveForm(),
        {
            content: "Saved with its level",
            trigger: ".o_field_widget[name=level_ids] .o_data_row:contains('Tour letter level')",
        },
    ],
});

tours.add("dunning_preview_run_tour", {
    steps: () => [
        ...openInvoicing,
        ...openDunningMenu("dunning_ruler.menu_dunning_dashboard", "One click to the dashboard"),
        {
            content: "The dashboard lists the customer needing action today, by level",
            trigger: ".o_kanban_group:contains('Overdue') .o_kanban_record:contains('Tour Customer')",
        },
        ...openDunningMenu("dunning_ruler.menu_dunning_preview", "Open the preview"),
        {
            content: "Compute the dry run",
            trigger: ".modal button[name=action_compute]:contains('Preview')",
            run: "click",
        },
        {
            content: "The preview shows the customer, its level, channel and amount",
            trigger: ".modal .o_data_row:contains('Tour Customer'):contains('Overdue'):contains('Email'):contains('1,234.50')",
        },
        {
            content: "Run for the selection",
            trigger: ".modal button[name=action_run_selection]",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal:not(.o_inactive_modal) .modal-footer button.btn-primary:contains('Ok')",
            run: "click",
        },
        {
            content: "The events of the run are shown",
            trigger: ".o_list_view .o_data_row:contains('Tour Customer'):contains('Overdue')",
        },
    ],
});

tours.add("dunning_hold_tour", {
    steps: () => [
        {
            content: "Open the Dunning tab",
            trigger: ".o_notebook .nav-link:contains('Dunning')",
            run: "click",
        },
        {
            content: "Put on hold",
            trigger: "button[name=action_open_dunning_hold_wizard]:contains('Put on hold')",
            run: "click",
        },
        {
            content: "Promised payment date",
            trigger: ".modal .o_field_widget[name=hold_until] input",
            run: "edit 12/31/2099",
        },
        {
            content: "Note",
            trigger: ".modal .o_field_widget[name=note] input",
            run: "edit Promised by phone",
        },
        {
            content: "Apply",
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "The hold is traced in the chatter",
            trigger: ".o-mail-Message:contains('Promised by phone')",
        },
    ],
});

tours.add("dunning_portal_tour", {
    steps: () => [
        {
            content: "Total owed",
            trigger: ".o_dunning_total_owed:contains('1,234.50')",
        },
        {
            content: "The overdue invoice is listed with its pay button",
            trigger: "tr.o_dunning_overdue:contains('1,234.50') a.o_dunning_pay",
        },
        {
            content: "What happens next",
            trigger: "#dunning_portal_next_step .o_dunning_next_level:contains('Final')",
        },
        {
            content: "Open the invoice to pay it",
            trigger: "tr.o_dunning_overdue a.o_dunning_pay",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The invoice page",
            trigger: ".o_portal_invoice_sidebar",
        },
    ],
});

tours.add("dunning_statement_tour", {
    steps: () => [
        {
            content: "The statement opens from the link alone: what is owed",
            trigger: ".o_dunning_total_owed:contains('1,833.50')",
        },
        {
            content: "Each overdue invoice with its own pay link",
            trigger: "tr.o_dunning_overdue a.o_dunning_pay",
        },
        {
            content: "Pay all overdue, through the payment providers",
            trigger: "a.o_dunning_pay_all:contains('1,234.50')",
        },
        {
            content: "Promise to pay by the latest date allowed",
            trigger: ".o_dunning_promise input[name=promise_date]",
            run() {
                this.anchor.value = this.anchor.max;
            },
        },
        {
            content: "Send the promise",
            trigger: ".o_dunning_promise_submit",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The promise is recorded",
            trigger: ".o_dunning_promise_done",
        },
        {
            content: "A second promise is not offered",
            trigger: ".o_dunning_promise_refused",
        },
    ],
});
