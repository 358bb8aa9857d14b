// The collector's open agent files, bounded: at most maxAgents at once (a new agent beyond that is
// refused), each closed (valid) after idleMs without a batch and opened again as a new file when
// the agent returns. Refusals go to Refusals (counted, logged rate-limited).
import type { Logger } from '../observability/logger';
import { AgentFile, type FileWriting } from './agent-file';
import type { Refusals } from './refusals';

export interface AgentFileLimits {
  /** Agents with an open file at once; a batch of one more is refused. */
  maxAgents: number;
  /** Sources (pcapng interfaces) per agent file; frames of later ones are refused. */
  maxInterfaces: number;
  /** Close an agent's file after this long without a batch (0: never). */
  idleMs: number;
}

export const defaultAgentFileLimits: AgentFileLimits = { maxAgents: 1024, maxInterfaces: 4096, idleMs: 300_000 };

/** A batch of an agent that would be one more than maxAgents. */
export class AgentLimitError extends Error {
  constructor(readonly maxAgents: number) {
    super(`too many agents (at most ${maxAgents} at once, --max-agents)`);
  }
}

const KEEP_CLOSED_FILE_NAMES = 1000;

export class AgentFiles {
  private readonly open = new Map<string, AgentFile>();
  private generation = 1; // names a returning agent's next file (its first name is taken)
  /** Agent files opened this run (an agent back after its file closed for idleness counts again). */
  opened = 0;
  private readonly closedFiles: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly writing: FileWriting,
    private readonly runId: string,
    private readonly limits: AgentFileLimits,
    private readonly log: Logger,
    private readonly refusals: Refusals,
    /** Told of every agent whose file closed (its metrics labels can go). */
    private readonly onClosed: (agent: string) => void,
    /** Told of every file closed (rotated away from, or its agent's file closed), with its agent. */
    private readonly onFileClosed?: (file: string, agent: string) => void,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** The agent's open file, opening one if needed; throws AgentLimitError beyond maxAgents. */
  fileFor(agent: string): AgentFile {
    let file = this.open.get(agent);
    if (file) return file;
    if (this.open.size >= this.limits.maxAgents) {
      this.refusals.count('agents', 1);
      throw new AgentLimitError(this.limits.maxAgents);
    }
    file = this.create(agent);
    this.opened++;
    this.open.set(agent, file);
    this.log.info({ agent }, 'new agent');
    return file;
  }

  /** Every second: hands buffered frames to the kernel and closes idle files. */
  tick(now = Date.now()): void {
    for (const [agent, f] of this.open) {
      try {
        if (this.limits.idleMs && now - f.lastWriteMs >= this.limits.idleMs) {
          this.closeOne(agent, f);
          this.log.info({ agent, files: f.files() }, 'agent idle: file closed');
        } else {
          f.flush();
          this.handOut(agent, f);
        }
      } catch (err) {
        this.log.error({ agent, err: (err as Error).message }, 'flushing or closing a capture file failed');
      }
    }
  }

  /** Files written this run, oldest first (closed ones: the latest KEEP_CLOSED_FILE_NAMES). */
  files(): string[] {
    return [...this.closedFiles, ...[...this.open.values()].flatMap((f) => f.files())];
  }

  /** Closes every file; returns the errors, one line each. */
  closeAll(): string[] {
    const errors: string[] = [];
    for (const [agent, f] of this.open) {
      try {
        this.closeOne(agent, f);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return errors;
  }

  // Files are created exclusively: a name already on disk (the agent's earlier file this run, closed
  // for idleness) is never truncated; the file then gets the next run-wide generation number.
  private create(agent: string): AgentFile {
    for (let attempt = 0; ; attempt++) {
      const file = AgentFile.pathFor(this.dir, agent, this.runId, attempt === 0 ? 1 : ++this.generation);
      try {
        return new AgentFile(agent, file, this.writing, this.limits.maxInterfaces);
      } catch (err) {
        if (!/exists already/.test((err as Error).message) || attempt >= 100) throw err;
      }
    }
  }

  private closeOne(agent: string, f: AgentFile): void {
    this.open.delete(agent);
    this.closedFiles.push(...f.files());
    this.closedFiles.splice(0, Math.max(0, this.closedFiles.length - KEEP_CLOSED_FILE_NAMES));
    this.onClosed(agent);
    f.close();
    this.handOut(agent, f);
  }

  private handOut(agent: string, f: AgentFile): void {
    if (this.onFileClosed) for (const file of f.takeClosed()) this.onFileClosed(file, agent);
  }
}
