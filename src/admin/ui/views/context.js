// What the router (app.js) hands each view, in a file of its own: the views name these types
// without referring back to app.js, which imports them (no import cycle, types included).

/**
 * @typedef {{ refresh(): Promise<void>, intervalMs: number, destroy?(): void }} View
 * @typedef {{ api: typeof import('../api.js').api, confirm(title: string, text: string, ok: string): Promise<boolean> }} Context
 */

export {}
