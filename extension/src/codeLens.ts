// A "Run Training" lens above each train.py call. Placing it needs only the line; what runs
// (the resolved argv) comes from the language server when the lens is pressed.
import * as vscode from 'vscode';
import { trainCallLines } from './trainCalls';

/** Asks the server where the runs of a document start (for YAML, where there is no train.py line). */
export type RunLineSource = (uri: vscode.Uri) => Promise<number[]>;

export class TrainCodeLensProvider implements vscode.CodeLensProvider {
  constructor(private readonly runLines: RunLineSource) {}

  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const trusted = vscode.workspace.isTrusted;
    const isYaml = /\.ya?ml$/i.test(document.fileName);
    const lines = isYaml ? await this.runLines(document.uri).catch(() => []) : trainCallLines(document.getText());
    return lines.flatMap((line) => {
      const range = new vscode.Range(line, 0, line, 0);
      if (!trusted) {
        return [new vscode.CodeLens(range, { title: vscode.l10n.t('$(shield) Run Training (trust this folder first)'), command: 'workbench.trust.manage' })];
      }
      return [
        new vscode.CodeLens(range, { title: vscode.l10n.t('$(play) Run Training'), command: 'rwkvStudio.runTraining', arguments: [document.uri, line] }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('$(graph) Dashboard'), command: 'rwkvStudio.openDashboard' }),
      ];
    });
  }
}
