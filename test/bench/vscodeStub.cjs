// A minimal stand-in for the `vscode` module, enough for activate() to run outside VS Code
// (the activation benchmark). Every registration returns a disposable; settings return their
// defaults.
const disposable = () => ({ dispose() {} });
class EventEmitter { constructor() { this.listeners = []; this.event = (l) => { this.listeners.push(l); return disposable(); }; } fire(v) { for (const l of this.listeners) l(v); } dispose() {} }
const statusItem = () => ({ show() {}, hide() {}, dispose() {}, text: '', tooltip: '', name: '', command: '' });
const api = {
  EventEmitter,
  StatusBarAlignment: { Left: 1, Right: 2 },
  ViewColumn: { Beside: -2, One: 1 },
  ProgressLocation: { Notification: 15 },
  TaskScope: { Workspace: 2 },
  TaskRevealKind: { Always: 1 },
  TaskPanelKind: { Dedicated: 2 },
  TaskGroup: { Build: {} },
  ConfigurationTarget: { Workspace: 2 },
  Uri: { file: (p) => ({ fsPath: p, toString: () => `file://${p}` }), joinPath: (u, ...p) => ({ fsPath: [u.fsPath, ...p].join('/') }) },
  l10n: { t: (s, ...a) => s.replace(/\{(\d)\}/g, (_, i) => String(a[i])) },
  env: { language: 'en' },
  window: {
    createOutputChannel: () => ({ append() {}, appendLine() {}, show() {}, dispose() {} }),
    createStatusBarItem: statusItem,
    registerWebviewPanelSerializer: disposable,
    showInformationMessage: async () => undefined,
  },
  commands: { registerCommand: disposable, executeCommand: async () => undefined },
  languages: { registerCodeLensProvider: disposable },
  tasks: { registerTaskProvider: disposable },
  workspace: {
    isTrusted: true,
    workspaceFolders: undefined,
    textDocuments: [],
    getConfiguration: () => ({ get: (_k, d) => d, update: async () => undefined }),
    onDidGrantWorkspaceTrust: disposable,
  },
};
// Anything else (classes vscode-languageclient extends at load time, enums) is an empty class.
module.exports = new Proxy(api, { get: (target, key) => (key in target ? target[key] : class {}) });
