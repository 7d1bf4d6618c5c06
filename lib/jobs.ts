// Work that can outgrow a request runs as a job: started at once with an id, run a step at a time by whichever process
// holds its claim, each step an append-only checkpoint (where the next step continues, what this one did), so progress is
// a query and a crashed run resumes after its last checkpoint. Everything that must be exclusive is an insert: a second
// start of the same run finds the first, two runners meet on the claim and on the checkpoint's id.
import { config } from './config';
import type { Collection, Db } from 'mongodb';
import { claimRecord, releaseClaim, type Claim } from './claims';
import { isDuplicateKeyError, type IndexDeclaration } from './mongo';
import { INSTANCE_ID } from './listen';
import type { Logger } from './logger';
import { withCorrelationId } from './correlation';

export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobDoc<Input = unknown> {
  /** `<kind>:<key>#<generation>`: the same run started twice is one job; a finished run started again is the next. */
  _id: string;
  kind: string;
  key: string;
  generation: number;
  input: Input;
  startedAt: Date;
  startedBy: string;
  correlationId: string;
  /** Set by the claim holder after the final checkpoint: a hint for the resume poll; the checkpoints are the truth. */
  finishedAt: Date | null;
}

export interface JobCheckpointDoc<StepResult = unknown> {
  /** `<job id>#<sequence>`: a step is recorded once, whoever ran it. */
  _id: string;
  jobId: string;
  sequence: number;
  /** Where the next step starts; null when there is no next step. */
  cursor: string | null;
  done: number;
  failures: number;
  /** How many items the whole job has, when the step knows. */
  total: number | null;
  result: StepResult | null;
  final: boolean;
  error: string | null;
  /** Which process ran the step. */
  instanceId: string;
  at: Date;
}

export interface JobClaimDoc extends Claim {
  jobId: string;
}

export interface JobStep<StepResult> {
  cursor: string | null;
  done: number;
  failures: number;
  total?: number | null;
  result: StepResult;
}

export interface JobKind<Input, StepResult> {
  kind: string;
  /** One step from `cursor` (null at the start); returns where the next one starts (null: finished). Re-runnable. */
  step(job: JobDoc<Input>, cursor: string | null, log: Logger): Promise<JobStep<StepResult>>;
}

export interface JobView<Input = unknown, StepResult = unknown> {
  job: JobDoc<Input>;
  status: JobStatus;
  done: number;
  total: number | null;
  failures: number;
  /** Items per second since the job started (until it finished). */
  ratePerSecond: number;
  results: StepResult[];
  error: string | null;
  finishedAt: Date | null;
  /** How many processes ran its steps (more than one after a crash and resume). */
  runners: number;
}

export const jobIndexes: IndexDeclaration[] = [
  { collection: 'jobs', keys: { kind: 1, key: 1, generation: 1 }, options: { unique: true } },
  { collection: 'job_checkpoints', keys: { jobId: 1, sequence: 1 } },
  { collection: 'job_claims', keys: { jobId: 1, sequence: 1 } },
];

export interface JobSettings {
  /** A runner that stops renewing its claim for this long is presumed dead; another process resumes the job. */
  leaseMs: number;
  /** How often each process looks for jobs nobody runs. */
  pollMs: number;
  /** Consecutive failures of one step before the job is FAILED. */
  maxAttempts: number;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = {
  leaseMs: config().USAGEGRAPH_JOB_LEASE_MS,
  pollMs: config().USAGEGRAPH_JOB_POLL_MS,
  maxAttempts: 5,
};

export class Jobs {
  readonly jobs: Collection<JobDoc>;
  readonly checkpoints: Collection<JobCheckpointDoc>;
  readonly claims: Collection<JobClaimDoc>;
  private readonly kinds = new Map<string, JobKind<unknown, unknown>>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly attempts = new Map<string, number>();
  private stopping = false;

  constructor(
    db: Db,
    private readonly log: Logger,
    private readonly settings: JobSettings = DEFAULT_JOB_SETTINGS,
  ) {
    this.jobs = db.collection<JobDoc>('jobs');
    this.checkpoints = db.collection<JobCheckpointDoc>('job_checkpoints');
    this.claims = db.collection<JobClaimDoc>('job_claims');
  }

  register<Input, StepResult>(kind: JobKind<Input, StepResult>): void {
    this.kinds.set(kind.kind, kind as JobKind<unknown, unknown>);
  }

  /** Starts the run `key` of `kind`, or returns the one already under way; it runs in the background from here. */
  async start<Input>(
    kind: string,
    key: string,
    input: Input,
    by: { subject: string; correlationId: string },
  ): Promise<JobDoc<Input>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const [latest] = await this.jobs.find({ kind, key }).sort({ generation: -1 }).limit(1).toArray();
      if (latest && !(await this.isFinished(latest._id))) return latest as JobDoc<Input>;
      const generation = (latest?.generation ?? 0) + 1;
      const job: JobDoc<Input> = {
        _id: `${kind}:${key}#${generation}`,
        kind,
        key,
        generation,
        input,
        startedAt: new Date(),
        startedBy: by.subject,
        correlationId: by.correlationId,
        finishedAt: null,
      };
      try {
        await this.jobs.insertOne(job as JobDoc);
        this.kick(job._id);
        return job;
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        // Started by someone else a moment ago: that one is the job.
      }
    }
    throw new Error(`could not start ${kind} ${key}: too many concurrent starts`);
  }

  async view<Input, StepResult>(jobId: string): Promise<JobView<Input, StepResult> | null> {
    const job = (await this.jobs.findOne({ _id: jobId })) as JobDoc<Input> | null;
    if (!job) return null;
    const steps = (await this.checkpoints.find({ jobId }).toArray()).sort((a, b) => a.sequence - b.sequence);
    const final = steps.find((s) => s.final);
    const [claim] = await this.claims.find({ jobId }).sort({ sequence: -1 }).limit(1).toArray();
    const live = claim && !claim.releasedAt && claim.expiresAt > new Date();
    const done = steps.reduce((n, s) => n + s.done, 0);
    const finishedAt = final?.at ?? null;
    const seconds = ((finishedAt ?? new Date()).getTime() - job.startedAt.getTime()) / 1000;
    return {
      job,
      status: final ? (final.error ? 'FAILED' : 'SUCCEEDED') : live || steps.length > 0 ? 'RUNNING' : 'QUEUED',
      done,
      total: steps.find((s) => s.total !== null)?.total ?? null,
      failures: steps.reduce((n, s) => n + s.failures, 0),
      ratePerSecond: seconds > 0 ? Math.round((done / seconds) * 10) / 10 : 0,
      results: steps.flatMap((s) => (s.result === null ? [] : [s.result as StepResult])),
      error: final?.error ?? null,
      finishedAt,
      runners: new Set(steps.map((s) => s.instanceId)).size,
    };
  }

  /** Runs jobs started here at once and, every pollMs, resumes those whose runner died. Returns a stop function. */
  startWorker(): () => Promise<void> {
    const timer = setInterval(() => void this.resumeAbandoned(), this.settings.pollMs);
    void this.resumeAbandoned();
    return async () => {
      this.stopping = true;
      clearInterval(timer);
      // A step in flight finishes and is recorded; the claim is released, so another process resumes the job at once.
      await Promise.all(this.running.values());
    };
  }

  private async isFinished(jobId: string): Promise<boolean> {
    return (await this.checkpoints.countDocuments({ jobId, final: true })) > 0;
  }

  private async resumeAbandoned(): Promise<void> {
    if (this.stopping) return;
    try {
      const open = await this.jobs.find({ finishedAt: null }).limit(100).toArray();
      for (const job of open) if (this.kinds.has(job.kind)) this.kick(job._id);
    } catch (error) {
      this.log.warn({ err: error }, 'could not look for jobs to resume; will try again');
    }
  }

  private kick(jobId: string): void {
    if (this.stopping || this.running.has(jobId)) return;
    // A fresh scope: the run outlives the request that started it and must not inherit its abort signal.
    const run = withCorrelationId(`job:${jobId}`, () => this.run(jobId))
      .catch((error) => this.log.error({ err: error, jobId }, 'job runner failed; the job will be resumed'))
      .finally(() => this.running.delete(jobId));
    this.running.set(jobId, run);
  }

  private async run(jobId: string): Promise<void> {
    const job = await this.jobs.findOne({ _id: jobId });
    if (!job) return;
    const kind = this.kinds.get(job.kind);
    if (!kind) return;
    const claim = await claimRecord(this.claims, 'jobId', jobId, this.settings.leaseMs);
    if (!claim) return; // another process runs it
    try {
      await withCorrelationId(job.correlationId, () => this.runClaimed(job, kind, claim));
    } finally {
      await releaseClaim(this.claims, claim).catch(() => undefined);
    }
  }

  private async runClaimed(job: JobDoc, kind: JobKind<unknown, unknown>, claim: JobClaimDoc): Promise<void> {
    for (;;) {
      const [last] = await this.checkpoints.find({ jobId: job._id }).sort({ sequence: -1 }).limit(1).toArray();
      if (last?.final) {
        if (!job.finishedAt) await this.jobs.updateOne({ _id: job._id }, { $set: { finishedAt: last.at } });
        return;
      }
      if (this.stopping) return;
      const sequence = (last?.sequence ?? 0) + 1;
      const cursor = last ? last.cursor : null;
      let checkpoint: JobCheckpointDoc;
      try {
        const step = await kind.step(job, cursor, this.log);
        this.attempts.delete(job._id);
        checkpoint = {
          _id: `${job._id}#${String(sequence).padStart(6, '0')}`,
          jobId: job._id,
          sequence,
          cursor: step.cursor,
          done: step.done,
          failures: step.failures,
          total: step.total ?? null,
          result: step.result,
          final: step.cursor === null,
          error: null,
          instanceId: INSTANCE_ID(),
          at: new Date(),
        };
      } catch (error) {
        const attempts = (this.attempts.get(job._id) ?? 0) + 1;
        this.attempts.set(job._id, attempts);
        this.log.warn({ err: error, jobId: job._id, attempts }, 'a job step failed');
        if (attempts < this.settings.maxAttempts) return; // the claim is released; the poll tries again
        checkpoint = {
          _id: `${job._id}#${String(sequence).padStart(6, '0')}`,
          jobId: job._id,
          sequence,
          cursor: null,
          done: 0,
          failures: 0,
          total: null,
          result: null,
          final: true,
          error: `${(error as Error).message} (after ${attempts} attempts)`,
          instanceId: INSTANCE_ID(),
          at: new Date(),
        };
      }
      try {
        await this.checkpoints.insertOne(checkpoint);
      } catch (error) {
        if (isDuplicateKeyError(error)) return; // our lease ran out and another process recorded this step
        throw error;
      }
      // Only the holder writes its claim: renewing it is not a race.
      await this.claims.updateOne(
        { _id: claim._id },
        { $set: { expiresAt: new Date(Date.now() + this.settings.leaseMs) } },
      );
    }
  }
}
