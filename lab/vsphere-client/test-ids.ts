// Stable `data-test` ids of the vSphere Client stand-in, shared by the shell and the Playwright journeys
// (configure Playwright with `testIdAttribute: 'data-test'` and use `page.getByTestId(testIds.x)`).
// Ids that take a label use the label exactly as shown on screen.
export const testIds = {
  login: {
    form: 'login-form',
    username: 'login-username',
    password: 'login-password',
    submit: 'login-submit',
    error: 'login-error',
  },
  header: {
    /** The "vSphere Client" branding link (goes home). */
    home: 'header-home',
    search: 'header-search',
    /** The "Menu" dropdown toggle. */
    menu: 'header-menu',
    /** An entry of the open Menu, e.g. `menuItem('Inventory')` or the plugin's name (opens its global view). */
    menuItem: (label: string) => `header-menu-item:${label}`,
    refresh: 'header-refresh',
    themeToggle: 'header-theme-toggle',
    userMenu: 'header-user-menu',
    /** Entries of the user menu other than Log Out (disabled stubs), e.g. `userMenuItem('Preferences')`. */
    userMenuItem: (label: string) => `header-user-menu-item:${label}`,
    logout: 'header-logout',
  },
  /** The danger alert listing plugins that could not be loaded; one item per plugin key. */
  pluginErrors: {
    alert: 'plugin-load-errors',
    item: (pluginKey: string) => `plugin-load-error:${pluginKey}`,
  },
  navigator: {
    /** The inventory view switcher above the tree, e.g. `view('VMs and Templates')`. */
    view: (label: 'Hosts and Clusters' | 'VMs and Templates' | 'Storage' | 'Networking') => `navigator-view:${label}`,
    tree: 'inventory-tree',
    /** Any tree node by its displayed name (vCenter, datacenter, folder or VM). */
    node: (name: string) => `tree-node:${name}`,
    /** The expand/collapse caret of a tree node. */
    toggle: (name: string) => `tree-toggle:${name}`,
  },
  object: {
    title: 'object-title',
    /** The "ACTIONS" button next to the selected object's name (opens the same menu as a right-click). */
    actions: 'object-actions',
    tab: (label: 'Summary' | 'Monitor' | 'Configure' | 'Permissions' | 'Datastores' | 'Networks' | 'Snapshots') =>
      `object-tab:${label}`,
    powerState: 'vm-power-state',
    guestOs: 'vm-guest-os',
    /** An entry in the Monitor tab's left list, e.g. a plugin monitor view by its label. */
    monitorView: (label: string) => `monitor-view:${label}`,
    monitorIframe: 'monitor-view-iframe',
    /** A VM link in a folder's VM list. */
    vmLink: (name: string) => `object-vm-link:${name}`,
    /** A row of a folder's VM list: click selects it, Ctrl/Shift-click adds to the selection, right-click opens the menu. */
    vmRow: (name: string) => `object-vm-row:${name}`,
  },
  contextMenu: {
    root: 'context-menu',
    /** A standard entry or submenu trigger, e.g. `item('Power')`. */
    item: (label: string) => `context-menu-item:${label}`,
    /** The submenu named after the plugin (`configuration.nameKey`). */
    pluginSubmenu: (pluginName: string) => `context-menu-plugin:${pluginName}`,
    /** A plugin action by its label (`labelKey`). */
    pluginAction: (label: string) => `context-menu-action:${label}`,
  },
  globalView: {
    iframe: 'global-view-iframe',
  },
  /** Lab only: the "Change disk blocks" card on a VM's Summary (not part of a real vSphere Client). */
  labDiskWrite: {
    card: 'lab-disk-write',
    blocks: 'lab-disk-write-blocks',
    submit: 'lab-disk-write-submit',
    result: 'lab-disk-write-result',
    error: 'lab-disk-write-error',
    /** Shut the guest down from inside (for a cutover with "I will power off the VM"). */
    shutdown: 'lab-guest-shutdown',
    /** Power the VM on again (after a lab shutdown or cutover). */
    powerOn: 'lab-power-on',
  },
  /** The Recent Tasks pane at the bottom (TaskManager.recentTask). */
  recentTasks: {
    pane: 'recent-tasks',
    toggle: 'recent-tasks-toggle',
    /** A task row by its vCenter task key (moRef value, e.g. task-123). */
    row: (key: string) => `recent-task:${key}`,
  },
  /** A VM's Monitor → Events view (an EventHistoryCollector on the VM). */
  events: {
    table: 'vm-events',
    /** Rows by the event's type id (extension events) or, for others, by their key. */
    row: (eventTypeIdOrKey: string) => `vm-event:${eventTypeIdOrKey}`,
  },
  modal: {
    root: 'plugin-modal',
    title: 'plugin-modal-title',
    close: 'plugin-modal-close',
    iframe: 'plugin-modal-iframe',
  },
  confirmation: {
    root: 'confirmation-modal',
    title: 'confirmation-modal-title',
    content: 'confirmation-modal-content',
    close: 'confirmation-modal-close',
    button: (label: string) => `confirmation-modal-button:${label}`,
  },
} as const;

export type TestIds = typeof testIds;
