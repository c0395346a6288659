import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { RetriableError } from '../../core/errors';
import type { DnsPort } from '../../ports/dns-port';

/** Route 53 did not accept the change or did not answer GetChange. */
export class DnsError extends RetriableError {}

/**
 * The private hosted zone's writer/reader records. UPSERT makes a repeated flip harmless. Nothing here waits
 * for INSYNC: AWS states a change reaches every Route 53 server within 60 s, a wait that belongs to a Step
 * Functions Wait/poll loop after the commit, not to a Lambda on the write path.
 */
export class Route53Dns implements DnsPort {
  constructor(
    private readonly r53: Route53Client,
    private readonly zoneId: string,
    private readonly defaultTtlSec = 5,
  ) {}

  async setRecord(name: string, ips: readonly string[], opts: { ttlSec?: number } = {}): Promise<{ changeId: string }> {
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
      return { changeId: r.ChangeInfo!.Id! };
    } catch (err) {
      throw new DnsError(`UPSERT ${name}: ${(err as Error).message}`);
    }
  }

  async changeInsync(changeId: string): Promise<boolean> {
    try {
      const c = await this.r53.send(new GetChangeCommand({ Id: changeId }));
      return c.ChangeInfo?.Status === 'INSYNC';
    } catch (err) {
      throw new DnsError(`GetChange ${changeId}: ${(err as Error).message}`);
    }
  }

  async getRecord(name: string): Promise<string[]> {
    return (await this.getRecordSet(name))?.ips ?? [];
  }

  /** An A record's values and TTL, or undefined when the zone has none by that name. */
  async getRecordSet(name: string): Promise<{ ips: string[]; ttlSec: number } | undefined> {
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
    if (!rr) return undefined;
    // An alias record carries no TTL of its own.
    return { ips: (rr.ResourceRecords ?? []).map((x) => x.Value!), ttlSec: rr.TTL ?? 60 };
  }
}
