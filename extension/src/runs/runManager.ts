// Starts, follows and stops training runs of dist/bin/rwkv-train. Pure Node (no vscode import)
// so it is unit-tested against a fake engine. The engine gets an argv array, never a shell line.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, appendFileSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { applyEvent } from './applyEvent';
import type { ProtocolEvent, UnknownEvent } from './protocol';
import { ProtocolReader } from './protocolReader';
import { readRunFile } from './runFiles';
import { RunHistory } from './runHistory';
import { emptyRecord, isActive, newRunId, type RunRecord, type RunSpec } from './runRecord';

export interface StopTimeouts {
  /** After SIGINT the engine saves a checkpoint and ends; this long it may take. */
  interruptMs: number;
  /** After SIGTERM, before SIGKILL. */
  terminateMs: number;
}

export const DEFAULT_STOP_TIMEOUTS: StopTimeouts = { interruptMs: 15_000, terminateMs: 5_000 };
const STDERR_TAIL_LINES = 40;
const SAVE_INTERVAL_MS = 2_000;

export interface RunManagerOptions {
  /** Absolute path of rwkv-train (a .js/.mjs path runs with node: the test fake). */
  enginePath: () => string;
  historyDir: string;
  stopTimeouts?: StopTimeouts;
}

export interface RunManagerEvents {
  /** The record changed (status, last step...). */
  update: [record: RunRecord];
  /** One protocol event of a run, in order. */
  event: [runId: string, event: ProtocolEvent | UnknownEvent];
  /** A chunk of the engine's stderr (human log, progress bar). */
  stderr: [runId: string, text: string];
  /** A stdout line that is not protocol. */
  garbage: [runId: string, line: string, reason: string];
}

interface LiveRun {
  child: ChildProcess;
  stopRequested: boolean;
  exited: Promise<void>;
  timers: NodeJS.Timeout[];
}

export class RunManager extends EventEmitter<RunManagerEvents> {
  private readonly history: RunHistory;
  private readonly records = new Map<string, RunRecord>();
  private readonly live = new Map<string, LiveRun>();
  /**
   * Events of adopted runs (opened or followed files), for replay. Engine runs are replayed from
   * their events file instead, so a run of a million steps does not live in memory.
   */
  private readonly eventCache = new Map<string, (ProtocolEvent | UnknownEvent)[]>();
  private readonly timeouts: StopTimeouts;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RunManagerOptions) {
    super();
    this.history = new RunHistory(options.historyDir);
    this.timeouts = options.stopTimeouts ?? DEFAULT_STOP_TIMEOUTS;
    for (const record of this.history.load()) {
      // A run that was live when the previous window closed has no process any more.
      if (isActive(record.status)) {
        record.status = 'crashed';
        record.failure ??= { code: 'ORPHANED', message: 'VS Code closed while this run was going; its process was not followed any more.' };
      }
      this.records.set(record.id, record);
    }
  }

  list(): RunRecord[] {
    return [...this.records.values()].sort((a, b) => a.startedAt - b.startedAt);
  }

  get(id: string): RunRecord | undefined {
    return this.records.get(id);
  }

  activeRuns(): RunRecord[] {
    return this.list().filter((r) => isActive(r.status));
  }

  /** Every event of a run so far (from memory, else from its events file): the dashboard's replay. */
  events(id: string): (ProtocolEvent | UnknownEvent)[] {
    const cached = this.eventCache.get(id);
    if (cached) return cached;
    const record = this.records.get(id);
    if (!record) return [];
    try {
      if (record.source !== 'engine') {
        // An opened or followed file, after a reload: read it again (loss_data.jsonl is converted).
        return record.sourceFile && existsSync(record.sourceFile) ? readRunFile(record.sourceFile, readFileSync(record.sourceFile, 'utf8')).events : [];
      }
      if (!record.eventsFile || !existsSync(record.eventsFile)) return [];
      const events: (ProtocolEvent | UnknownEvent)[] = [];
      const reader = new ProtocolReader((item) => { if (item.kind === 'event') events.push(item.event); });
      reader.push(readFileSync(record.eventsFile));
      reader.end();
      return events;
    } catch {
      return []; // an unreadable file replays as an empty chart, never an exception
    }
  }

  /** Adds a run read from elsewhere (an opened metrics.jsonl, a followed RWKV-PEFT log). */
  adopt(record: RunRecord, events: (ProtocolEvent | UnknownEvent)[]): void {
    this.records.set(record.id, record);
    this.eventCache.set(record.id, events);
    this.scheduleSave(true);
    this.emit('update', record);
  }

  /** Appends an event to an adopted run (a followed log grew). */
  appendAdopted(id: string, event: ProtocolEvent | UnknownEvent): void {
    const record = this.records.get(id);
    if (!record) return;
    applyEvent(record, event);
    let cache = this.eventCache.get(id);
    if (!cache) this.eventCache.set(id, (cache = []));
    cache.push(event);
    this.emit('event', id, event);
    this.emit('update', record);
    this.scheduleSave(false);
  }

  /** Ends an adopted run (a followed log no longer followed). */
  markEnded(id: string, status: 'stopped' | 'completed'): void {
    const record = this.records.get(id);
    if (!record || this.live.has(id)) return;
    record.status = status;
    record.endedAt = Date.now();
    this.scheduleSave(true);
    this.emit('update', record);
  }

  /**
   * Starts a run. Never throws: problems (engine missing, cwd missing, spawn failure) give a
   * record with status "failed" and a `failure`, kept in the history like any other run.
   */
  start(spec: RunSpec, resumedFromRunId?: string): RunRecord {
    const id = newRunId();
    const record = emptyRecord(id, 'engine', { ...spec, argv: [...spec.argv], env: { ...spec.env } });
    record.resumedFromRunId = resumedFromRunId;
    this.history.ensureDirs();
    record.eventsFile = this.history.eventsFileFor(id);
    this.records.set(id, record);

    const engine = this.options.enginePath();
    const problem = this.checkLaunch(engine, spec.cwd);
    if (problem) {
      record.status = 'failed';
      record.failure = problem;
      record.endedAt = Date.now();
      this.scheduleSave(true);
      this.emit('update', record);
      return record;
    }

    const isScript = /\.(c|m)?js$/.test(engine);
    const command = isScript ? process.execPath : engine;
    const args = isScript ? [engine, ...spec.argv] : [...spec.argv];
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
      });
    } catch (error) {
      record.status = 'failed';
      record.failure = { code: 'SPAWN_FAILED', message: `Could not start ${engine}: ${(error as Error).message}` };
      record.endedAt = Date.now();
      this.scheduleSave(true);
      this.emit('update', record);
      return record;
    }
    record.pid = child.pid;

    const reader = new ProtocolReader((item) => {
      if (item.kind === 'garbage') {
        if (item.reason === 'empty line') return;
        record.garbageLines++;
        this.emit('garbage', id, item.line, item.reason);
        return;
      }
      this.handleEvent(record, item.event);
      toPersist.push(item.line.trim());
    });
    // The events of one chunk of stdout go to the events file in one write: an engine flooding
    // stdout must not cost a file system call per line on the extension host's thread.
    const toPersist: string[] = [];
    const persist = (): void => {
      if (!toPersist.length || !record.eventsFile) { toPersist.length = 0; return; }
      try { appendFileSync(record.eventsFile, toPersist.join('\n') + '\n'); } catch { /* history is best effort; the live view goes on */ }
      toPersist.length = 0;
    };
    child.stdout!.on('data', (chunk: Buffer) => { reader.push(chunk); persist(); });
    let stderrPending = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.emit('stderr', id, text);
      // Progress bars redraw with \r; keep the last state of each line.
      stderrPending += text;
      const lines = stderrPending.split('\n');
      stderrPending = lines.pop() ?? '';
      for (const line of lines) this.pushStderr(record, line);
    });

    let resolveExit!: () => void;
    const exited = new Promise<void>((resolve) => { resolveExit = resolve; });
    const liveRun: LiveRun = { child, stopRequested: false, exited, timers: [] };
    this.live.set(id, liveRun);

    let spawnError: Error | undefined;
    child.on('error', (error) => { spawnError = error; });
    child.on('close', (code, signal) => {
      reader.end();
      persist();
      if (stderrPending) this.pushStderr(record, stderrPending);
      for (const t of liveRun.timers) clearTimeout(t);
      this.live.delete(id);
      record.exitCode = code;
      record.signal = signal;
      record.endedAt = Date.now();
      record.pid = undefined;
      this.finishStatus(record, liveRun.stopRequested, spawnError);
      this.scheduleSave(true);
      this.emit('update', record);
      resolveExit();
    });

    this.scheduleSave(true);
    this.emit('update', record);
    return record;
  }

  /** SIGINT (the engine saves and ends), then SIGTERM, then SIGKILL. Resolves when the process is gone. */
  async stop(id: string): Promise<void> {
    const liveRun = this.live.get(id);
    const record = this.records.get(id);
    if (!liveRun || !record) return;
    if (!liveRun.stopRequested) {
      liveRun.stopRequested = true;
      record.status = 'stopping';
      this.emit('update', record);
      liveRun.child.kill('SIGINT');
      liveRun.timers.push(setTimeout(() => {
        if (!this.live.has(id)) return;
        liveRun.child.kill('SIGTERM');
        liveRun.timers.push(setTimeout(() => { if (this.live.has(id)) liveRun.child.kill('SIGKILL'); }, this.timeouts.terminateMs));
      }, this.timeouts.interruptMs));
    }
    await liveRun.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.stop(id)));
  }

  /** The newest checkpoint a run can resume from, if any. */
  resumeCheckpoint(id: string): string | undefined {
    const record = this.records.get(id);
    const candidates = (record?.checkpoints ?? []).filter((c) => typeof c.path === 'string' && c.kind === 'resume');
    const newest = candidates.sort((a, b) => (a.step ?? 0) - (b.step ?? 0)).pop();
    return newest?.path;
  }

  /**
   * Starts the same script again. The engine continues by itself from proj_dir/rwkv-resume.pth
   * (written on every stop and epoch), so resuming is running the same argv in the same cwd.
   */
  resume(id: string): RunRecord | undefined {
    const record = this.records.get(id);
    if (!record || record.source !== 'engine') return undefined;
    return this.start({ ...record.spec }, id);
  }

  /** Same script, forced onto the CPU backend (the next step offered when no GPU is usable). */
  startOnCpu(spec: RunSpec): RunRecord {
    return this.start({ ...spec, argv: withFlag(spec.argv, '--accelerator', 'cpu') });
  }

  /** Flushes the history file now (on deactivate). */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.history.save(this.list());
  }

  dispose(): void {
    this.flush();
    this.removeAllListeners();
  }

  private handleEvent(record: RunRecord, event: ProtocolEvent | UnknownEvent): void {
    applyEvent(record, event, true);
    this.emit('event', record.id, event);
    this.emit('update', record);
    this.scheduleSave(event.event !== 'step');
  }

  private pushStderr(record: RunRecord, line: string): void {
    const last = line.split('\r').filter((s) => s.trim() !== '').pop();
    if (last === undefined) return;
    record.stderrTail.push(last.trimEnd());
    if (record.stderrTail.length > STDERR_TAIL_LINES) record.stderrTail.shift();
  }

  private finishStatus(record: RunRecord, stopRequested: boolean, spawnError: Error | undefined): void {
    if (spawnError && record.stepCount === 0 && !record.start) {
      const code = (spawnError as NodeJS.ErrnoException).code;
      record.status = 'failed';
      record.failure = code === 'ENOENT'
        ? { code: 'ENGINE_MISSING', message: `The training engine was not found at ${this.options.enginePath()}.` }
        : code === 'EACCES'
          ? { code: 'ENGINE_NOT_EXECUTABLE', message: `The training engine at ${this.options.enginePath()} cannot be executed.` }
          : { code: 'SPAWN_FAILED', message: `Could not start the engine: ${spawnError.message}` };
      return;
    }
    const said = record.reportedEnd;
    if (said === 'completed' || said === 'failed' || said === 'stopped') {
      record.status = said; // the engine's own end event
      return;
    }
    if (stopRequested) {
      record.status = 'stopped';
      return;
    }
    if (record.failure) {
      record.status = 'failed';
      return;
    }
    if (record.exitCode === 0) {
      // Exit 0 without an end event: trust the exit code but say the stream was cut.
      record.status = 'completed';
      record.warnings.push({ code: 'NO_END_EVENT', message: 'The engine exited normally without an "end" event.' });
      return;
    }
    record.status = 'crashed';
  }

  private checkLaunch(engine: string, cwd: string): RunRecord['failure'] {
    if (!engine || !existsSync(engine)) {
      return { code: 'ENGINE_MISSING', message: `The training engine was not found at ${engine || '(no path)'}.` };
    }
    if (!/\.(c|m)?js$/.test(engine)) {
      try { accessSync(engine, constants.X_OK); } catch {
        return { code: 'ENGINE_NOT_EXECUTABLE', message: `The training engine at ${engine} is not executable.` };
      }
    }
    try {
      if (!statSync(cwd).isDirectory()) throw new Error('not a directory');
    } catch {
      return { code: 'CWD_MISSING', message: `The script would run in ${cwd}, which does not exist.` };
    }
    return undefined;
  }

  private scheduleSave(now: boolean): void {
    if (now) {
      this.flushSafely();
      return;
    }
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => { this.saveTimer = undefined; this.flushSafely(); }, SAVE_INTERVAL_MS);
    this.saveTimer.unref?.();
  }

  private flushSafely(): void {
    try { this.flush(); } catch { /* a read-only history folder must not stop a run */ }
  }
}

/** Sets `--flag value` in an argv (replacing an earlier value). Without a value the argv is unchanged. */
export function withFlag(argv: readonly string[], flag: string, value: string | undefined): string[] {
  if (value === undefined) return [...argv];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) { i++; continue; }
    if (argv[i].startsWith(flag + '=')) continue;
    out.push(argv[i]);
  }
  out.push(flag, value);
  return out;
}
