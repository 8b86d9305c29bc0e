/** Steps the dunning tours share: from the home screen to an entry of the Dunning menu. */

export const openInvoicing = [
    {
        content: "Open the apps menu",
        trigger: ".o_navbar_apps_menu button",
        run: "click",
    },
    {
        content: "Open Invoicing",
        trigger: ".o_app[data-menu-xmlid='account.menu_finance']",
        run: "click",
    },
];

export const openDunningRoot = {
    content: "Open the Dunning menu of Invoicing",
    trigger: ".o_menu_sections [data-menu-xmlid='dunning_ruler.menu_dunning_root']",
    run: "click",
};

/** From Invoicing, an entry of its Dunning menu. */
export const openDunningMenu = (xmlid, content) => [
    openDunningRoot,
    {
        content,
        trigger: `.dropdown-item[data-menu-xmlid='${xmlid}'], .o-dropdown-item[data-menu-xmlid='${xmlid}']`,
        run: "click",
    },
];

/** From the home screen, an entry of the Dunning menu. */
export const openDunningEntry = (xmlid, content) => [...openInvoicing, ...openDunningMenu(xmlid, content)];
