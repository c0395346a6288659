/**
 * The lab's AWS endpoint: an HTTP proxy in front of the emulator, run by the
 * supervisor. Every AWS call the product makes (functions, the CLI, tests)
 * goes through it, so the cloud profile is modelled here and never in the
 * product: a per-service latency on each call, an optional extra delay on
 * every call (the slowed-emulator fault), and Route 53 propagation. A change
 * passing through gets a drawn propagation delay; GetChange reports PENDING
 * until it has passed, then INSYNC; `visibleRecord` tells the lab's resolver
 * what a VPC resolver would answer meanwhile (the value before the change).
 *
 * The lab's own housekeeping (seed, reset, status, the gates' SG poll) talks
 * to the emulator directly and so bypasses every delay.
 */
import http from 'node:http';
import { type CloudProfile, draw, type LatencyRange } from './cloud-profile';
import { sleep } from './postgres-node';

/** A record value as a resolver sees it (no record: `ips` empty). */
export interface RecordValue {
  readonly ips: readonly string[];
  readonly ttlSec: number;
}

/** One Route 53 change the proxy let through. */
export interface TrackedChange {
  readonly id: string;
  readonly submittedAt: number;
  /** When it has propagated: GetChange says INSYNC and resolvers see it from then on. */
  readonly visibleAt: number;
  /** The A records it sets, by name (no trailing dot). */
  readonly records: Readonly<Record<string, RecordValue>>;
}

/** Reads a record's current value from the emulator directly (the value before a change). */
export type RecordReader = (name: string) => Promise<RecordValue | undefined>;

const R53_CHANGE = /^\/2013-04-01\/hostedzone\/[^/]+\/rrset\/?$/;
const R53_GET_CHANGE = /^\/2013-04-01\/change\/([^/?]+)/;

/**
 * The service a request is for: SigV4's credential scope
 * (`Credential=AKID/20260101/us-east-1/<service>/aws4_request`), else the
 * X-Amz-Target prefix (`DynamoDB_20120810.GetItem`), else `default`.
 */
export function serviceOf(headers: http.IncomingHttpHeaders): string {
  const auth = String(headers.authorization ?? '');
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  if (scope) return scope[1]!;
  const target = String(headers['x-amz-target'] ?? '');
  if (/^DynamoDB/i.test(target)) return 'dynamodb';
  if (/^AWSStepFunctions/i.test(target)) return 'states';
  if (/^AmazonSSM/i.test(target)) return 'ssm';
  return 'default';
}

/** Parses the A records a ChangeResourceRecordSets request body sets (DELETE: no record). */
export function parseChangeBatch(xml: string): Record<string, RecordValue> {
  const out: Record<string, RecordValue> = {};
  for (const m of xml.matchAll(/<Change>([\s\S]*?)<\/Change>/g)) {
    const body = m[1]!;
    const tag = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(body)?.[1]?.trim();
    if (tag('Type') !== 'A') continue;
    const name = tag('Name')?.replace(/\.$/, '');
    if (!name) continue;
    const ips = tag('Action') === 'DELETE' ? [] : [...body.matchAll(/<Value>([^<]*)<\/Value>/g)].map((v) => v[1]!);
    out[name] = { ips, ttlSec: Number(tag('TTL') ?? 300) };
  }
  return out;
}

/** The AWS endpoint the lab gives the product. */
export class AwsProxy {
  private server: http.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly changes = new Map<string, TrackedChange>();
  /** Per record name: the value resolvers saw before the first change still tracked, then each change in order. */
  private readonly history = new Map<string, { before: RecordValue | undefined; changes: TrackedChange[] }>();
  /** Added to every call (the slowed-emulator fault); 0 = off. */
  slowMs = 0;
  /** Calls forwarded, per service (status and tests read it). */
  readonly calls: Record<string, number> = {};

  constructor(
    readonly port: number,
    private readonly emulatorPort: number,
    private profile: CloudProfile,
    private readonly readRecord: RecordReader,
    private readonly log: (msg: string) => void,
    private readonly random: () => number = Math.random,
  ) {}

  /** The port it listens on (the one given, or the one the OS chose for port 0). */
  get boundPort(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.port;
  }

  /** The profile being modelled. */
  get cloud(): CloudProfile {
    return this.profile;
  }

  /** Starts listening on 127.0.0.1. */
  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      void this.handle(req, res).catch((err: Error) => {
        this.log(`aws proxy: ${req.method} ${req.url}: ${err.message}`);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`lab proxy: ${err.message}`);
      });
    });
    // SDK clients keep connections alive; the emulator may hold a request for seconds (a paused emulator: longer).
    server.keepAliveTimeout = 65_000;
    server.requestTimeout = 0;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Stops listening and drops kept-alive connections. */
  async close(): Promise<void> {
    const server = this.server;
    this.agent.destroy();
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** Forgets every tracked change: the lab's reset writes the baseline records directly, visible at once. */
  forgetChanges(names?: readonly string[]): void {
    if (!names) {
      this.changes.clear();
      this.history.clear();
      return;
    }
    for (const n of names) this.history.delete(n);
  }

  /** Every change still tracked (newest last), for status and tests. */
  trackedChanges(): TrackedChange[] {
    return [...this.changes.values()].sort((a, b) => a.submittedAt - b.submittedAt);
  }

  /**
   * What a VPC resolver answers for `name` at `now`: the newest change to it
   * that has propagated, else the value from before the oldest tracked change.
   * Undefined when the proxy has no opinion (no change to the name went
   * through it): the caller reads the emulator.
   */
  visibleRecord(name: string, now = Date.now()): RecordValue | undefined | 'none' {
    const h = this.history.get(name.replace(/\.$/, ''));
    if (!h) return undefined;
    const shown = h.changes.filter((c) => c.visibleAt <= now).at(-1);
    if (shown) return shown.records[name]!;
    return h.before ?? 'none';
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const service = serviceOf(req.headers);
    this.calls[service] = (this.calls[service] ?? 0) + 1;
    const delay = this.latency(service) + this.slowMs;
    if (delay > 0) await sleep(delay);

    const url = req.url ?? '/';
    const r53Change = req.method === 'POST' && service === 'route53' && R53_CHANGE.test(url.split('?')[0]!);
    // Read the records' values before the change reaches the emulator: resolvers keep answering them meanwhile.
    const records = r53Change ? parseChangeBatch(body.toString('utf8')) : {};
    const before = r53Change ? await this.valuesBefore(Object.keys(records)) : {};
    const up = await this.forward(req, res, body);
    let out = up.body;
    if (service === 'route53' && up.status < 300) {
      if (r53Change) out = Buffer.from(this.trackChange(out.toString('utf8'), records, before));
      const getChange = req.method === 'GET' ? R53_GET_CHANGE.exec(url) : null;
      if (getChange) out = Buffer.from(this.rewriteGetChange(out.toString('utf8'), getChange[1]!));
    }
    const headers = { ...up.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    res.writeHead(up.status, { ...headers, 'content-length': String(out.length) });
    res.end(out);
  }

  private latency(service: string): number {
    const table = this.profile.apiLatency;
    const range: LatencyRange | undefined = table[service] ?? table.default;
    return range ? draw(range, this.random) : 0;
  }

  private async valuesBefore(names: string[]): Promise<Record<string, RecordValue | undefined>> {
    const out: Record<string, RecordValue | undefined> = {};
    for (const n of names) {
      // A name with a tracked history: what resolvers see now is what they keep seeing until the change lands.
      const seen = this.visibleRecord(n);
      if (seen !== undefined) out[n] = seen === 'none' ? undefined : seen;
      else out[n] = await this.readRecord(n).catch(() => undefined);
    }
    return out;
  }

  private trackChange(
    xml: string,
    records: Record<string, RecordValue>,
    before: Record<string, RecordValue | undefined>,
  ): string {
    const id = /<Id>([^<]*)<\/Id>/.exec(xml)?.[1]?.replace('/change/', '');
    if (!id) return xml;
    const now = Date.now();
    const change: TrackedChange = {
      id,
      submittedAt: now,
      visibleAt: now + draw(this.profile.route53Propagation, this.random),
      records,
    };
    this.changes.set(id, change);
    for (const [name] of Object.entries(records)) {
      const h = this.history.get(name) ?? { before: before[name], changes: [] };
      h.changes.push(change);
      this.history.set(name, h);
    }
    this.log(
      `route53: change ${id} (${Object.keys(records).join(', ') || 'no A record'}) propagates in ${change.visibleAt - now} ms`,
    );
    return xml.replace(/<Status>[^<]*<\/Status>/, '<Status>PENDING</Status>');
  }

  private rewriteGetChange(xml: string, rawId: string): string {
    const id = decodeURIComponent(rawId).replace('/change/', '');
    const c = this.changes.get(id);
    if (!c) return xml;
    const status = Date.now() < c.visibleAt ? 'PENDING' : 'INSYNC';
    return xml.replace(/<Status>[^<]*<\/Status>/, `<Status>${status}</Status>`);
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const up = http.request(
        {
          host: '127.0.0.1',
          port: this.emulatorPort,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(body.length) },
          agent: this.agent,
        },
        (r) => {
          const parts: Buffer[] = [];
          r.on('data', (d: Buffer) => parts.push(d));
          r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(parts) }));
          r.on('error', reject);
        },
      );
      up.on('error', reject);
      // The client gone (its own timeout, e.g. while the emulator is paused): stop waiting upstream too.
      res.once('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(body);
    });
  }
}
