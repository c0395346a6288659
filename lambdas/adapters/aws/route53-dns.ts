import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { RetriableError } from '../../core/errors';
import type { DnsPort } from '../../ports/dns-port';

/** Route 53 did not accept the change or did not report it INSYNC in time. */
export class DnsError extends RetriableError {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The private hosted zone's writer/reader records. UPSERT makes a repeated flip harmless. */
export class Route53Dns implements DnsPort {
  constructor(
    private readonly r53: Route53Client,
    private readonly zoneId: string,
    private readonly defaultTtlSec = 5,
  ) {}

  async setRecord(
    name: string,
    ips: readonly string[],
    opts: { ttlSec?: number; timeoutMs?: number } = {},
  ): Promise<{ changeId: string }> {
    let changeId: string;
    try {
      const r = await this.r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.zoneId,
          ChangeBatch: {
            Comment: 'pgquorum',
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: name,
                  Type: 'A',
                  TTL: opts.ttlSec ?? this.defaultTtlSec,
                  ResourceRecords: ips.map((Value) => ({ Value })),
                },
              },
            ],
          },
        }),
      );
      changeId = r.ChangeInfo!.Id!;
    } catch (err) {
      throw new DnsError(`UPSERT ${name}: ${(err as Error).message}`);
    }
    // Route 53 propagates to its resolvers within ~60 s at worst; INSYNC is the documented "done".
    const deadline = Date.now() + (opts.timeoutMs ?? 60000);
    let delay = 100;
    for (;;) {
      const c = await this.r53.send(new GetChangeCommand({ Id: changeId })).catch((err: Error) => {
        throw new DnsError(`GetChange ${changeId}: ${err.message}`);
      });
      if (c.ChangeInfo?.Status === 'INSYNC') return { changeId };
      if (Date.now() > deadline) throw new DnsError(`change ${changeId} for ${name} not INSYNC in time`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }

  async getRecord(name: string): Promise<string[]> {
    const want = name.replace(/\.$/, '');
    const r = await this.r53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: this.zoneId,
        StartRecordName: want,
        StartRecordType: 'A',
        MaxItems: 1,
      }),
    );
    const rr = r.ResourceRecordSets?.find((x) => x.Name?.replace(/\.$/, '') === want && x.Type === 'A');
    return (rr?.ResourceRecords ?? []).map((x) => x.Value!);
  }
}
