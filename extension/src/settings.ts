// The extension's settings (package.json "contributes.configuration"), read in one place.
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';

export type DefaultDevice = 'auto' | 'gpu' | 'cpu';

export const SECTION = 'rwkvStudio';

export function enginePath(extensionPath: string): string {
  const override = vscode.workspace.getConfiguration(SECTION).get<string>('enginePath', '').trim();
  if (override) return override;
  return join(extensionPath, 'dist', 'bin', process.platform === 'win32' ? 'rwkv-train.exe' : 'rwkv-train');
}

export function defaultDevice(): DefaultDevice {
  const v = vscode.workspace.getConfiguration(SECTION).get<string>('defaultDevice', 'auto');
  return v === 'gpu' || v === 'cpu' ? v : 'auto';
}

/** Where run history lives: the setting, else this workspace's storage, else global storage. */
export function runHistoryDirectory(context: vscode.ExtensionContext): string {
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>('runHistoryDirectory', '').trim();
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (configured) return isAbsolute(configured) || !folder ? configured : join(folder, configured);
  return (context.storageUri ?? context.globalStorageUri).fsPath;
}

export function serverPath(extensionPath: string): string | undefined {
  const path = join(extensionPath, 'dist', 'server.js');
  return existsSync(path) ? path : undefined;
}

/**
 * The GPU runs go to, for the editor's estimates where none is detected (editing on a laptop,
 * training on a server): rwkvStudio.targetGpu { name, memoryGB }.
 */
export function targetGpu(): { name: string; totalBytes: number } | undefined {
  const v = vscode.workspace.getConfiguration(SECTION).get<{ name?: unknown; memoryGB?: unknown }>('targetGpu');
  if (!v || typeof v.name !== 'string' || !v.name.trim() || typeof v.memoryGB !== 'number' || !(v.memoryGB > 0)) return undefined;
  return { name: v.name.trim(), totalBytes: Math.round(v.memoryGB * 1e9) };
}
